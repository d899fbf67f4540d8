package tikv

import (
	"context"
	"fmt"
	"math"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// SetScheduleLimit sets PD's leader-, region- or replica-schedule-limit.
//
// Refused (nothing changed; PhaseRefused, subject.ErrInvalid): an unknown
// kind, or n above MaxScheduleLimit (2^53, the most PD stores exactly); 0
// stops that kind of scheduling. A
// limit already at n is left alone: nothing is sent, NoChange is set.
// Otherwise it waits, at most Config.Actions.Timeouts.Config, until PD's
// configuration reads back n. subject.ErrUnconfirmed: it did not, or the
// answer to the request was lost.
func (s *Subject) SetScheduleLimit(ctx context.Context, kind subject.LimitKind, n uint64) (subject.Result, error) {
	key := kind.String() + "-schedule-limit"
	return s.action(ctx, "set_schedule_limit", key, func(a *act) error {
		var get func(*pdclient.ScheduleConfig) uint64
		switch kind {
		case subject.LeaderLimit:
			get = func(c *pdclient.ScheduleConfig) uint64 { return c.LeaderScheduleLimit }
		case subject.RegionLimit:
			get = func(c *pdclient.ScheduleConfig) uint64 { return c.RegionScheduleLimit }
		case subject.ReplicaLimit:
			get = func(c *pdclient.ScheduleConfig) uint64 { return c.ReplicaScheduleLimit }
		default:
			return fmt.Errorf("unknown limit kind %d: %w", kind, subject.ErrInvalid)
		}
		if n > MaxScheduleLimit {
			return fmt.Errorf("%s %d is above %d: %w", key, n, MaxScheduleLimit, subject.ErrInvalid)
		}
		cfg, err := s.pd.ScheduleConfig(ctx)
		if err != nil {
			return err
		}
		old := get(cfg)
		if old == n {
			a.r.Summary = fmt.Sprintf("%s is already %d; nothing to do", key, n)
			a.r.NoChange = true
			return nil
		}
		if a.dry {
			a.r.Summary = fmt.Sprintf("would set %s from %d to %d", key, old, n)
			return nil
		}
		if err := a.submit(func() error { return s.pd.SetConfig(ctx, map[string]any{key: n}) }); err != nil {
			return err
		}
		if err := a.waitConfig(key, func(c *pdclient.ScheduleConfig) bool { return get(c) == n }); err != nil {
			return err
		}
		a.r.Summary = fmt.Sprintf("set %s from %d to %d", key, old, n)
		return nil
	})
}

func (a *act) waitConfig(key string, ok func(*pdclient.ScheduleConfig) bool) error {
	return a.wait(a.s.acts.Timeouts.Config, "PD's "+key+" reading back as set", func(p *subject.Progress) (bool, error) {
		cfg, err := a.s.pd.ScheduleConfig(a.ctx)
		if err != nil {
			return false, err
		}
		if !ok(cfg) {
			p.Seen = "PD's " + key + " does not read back as set yet"
			return false, nil
		}
		p.Seen = "PD's " + key + " reads back as set"
		return true, nil
	})
}

// SetLowSpaceThreshold sets PD's low-space-ratio to percent/100. PD stops
// moving data to a store whose disk is fuller than that.
//
// Refused (nothing changed; PhaseRefused, subject.ErrInvalid): percent
// not strictly between 0 and 100, or not above PD's high-space-ratio
// (which PD would refuse). A ratio already at percent/100 is left alone:
// nothing is sent, NoChange is set. Otherwise it waits, at most
// Config.Actions.Timeouts.Config, until PD's configuration reads back the
// new ratio. subject.ErrUnconfirmed: it did not, or the answer to the
// request was lost.
func (s *Subject) SetLowSpaceThreshold(ctx context.Context, percent float64) (subject.Result, error) {
	return s.action(ctx, "set_low_space_threshold", "low-space-ratio", func(a *act) error {
		if math.IsNaN(percent) || percent <= 0 || percent >= 100 {
			return fmt.Errorf("low-space threshold %v%% is not between 0 and 100: %w", percent, subject.ErrInvalid)
		}
		ratio := percent / 100
		cfg, err := s.pd.ScheduleConfig(ctx)
		if err != nil {
			return err
		}
		if ratio <= cfg.HighSpaceRatio {
			return fmt.Errorf("low-space threshold %v%% must be above PD's high-space ratio %v%%: %w", percent, cfg.HighSpaceRatio*100, subject.ErrInvalid)
		}
		if math.Abs(cfg.LowSpaceRatio-ratio) < 1e-9 {
			a.r.Summary = fmt.Sprintf("low-space-ratio is already %v; nothing to do", cfg.LowSpaceRatio)
			a.r.NoChange = true
			return nil
		}
		if a.dry {
			a.r.Summary = fmt.Sprintf("would set low-space-ratio from %v to %v", cfg.LowSpaceRatio, ratio)
			return nil
		}
		if err := a.submit(func() error { return s.pd.SetConfig(ctx, map[string]any{"low-space-ratio": ratio}) }); err != nil {
			return err
		}
		if err := a.waitConfig("low-space-ratio", func(c *pdclient.ScheduleConfig) bool { return math.Abs(c.LowSpaceRatio-ratio) < 1e-9 }); err != nil {
			return err
		}
		a.r.Summary = fmt.Sprintf("set low-space-ratio from %v to %v", cfg.LowSpaceRatio, ratio)
		return nil
	})
}
