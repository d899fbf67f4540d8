package guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/kvops/operator/subject"
)

// The action names the guard knows, as subjects list them in
// [subject.Capabilities]. [Config.Disruptive] and [Config.Cooldowns] are
// keyed by them.
const (
	ActionTransferLeader       = "transfer_leader"
	ActionSplitRegion          = "split_region"
	ActionDrainStore           = "drain_store"
	ActionUndrainStore         = "undrain_store"
	ActionEvictLeaders         = "evict_leaders"
	ActionRestoreLeaders       = "restore_leaders"
	ActionSetScheduleLimit     = "set_schedule_limit"
	ActionSetLowSpaceThreshold = "set_low_space_threshold"
	// ActionPrepareRestart and ActionFinishRestart are the names of
	// tikv's restart actions, run through [Guard.Do] when they are in
	// [Config.Extra]. A prepare_restart evicts its store's leaders: it is
	// disruptive, and counts against the blast radius like evict_leaders
	// until a finish_restart of the store is confirmed.
	ActionPrepareRestart = "prepare_restart"
	ActionFinishRestart  = "finish_restart"
)

// ActionFunc runs a subject's action that is not a [subject.Actor] method
// (a restart, say) with a's arguments. With ctx carrying
// [subject.WithDryRun] it must only report what it would do, with
// Result.DryRun set; its errors follow the same rules as the Actor's.
type ActionFunc func(ctx context.Context, a Args) (subject.Result, error)

// Mode says what a Guard lets through.
type Mode uint8

// The modes. The zero value is the safest.
const (
	// ModeObserveOnly refuses every action, dry runs included, with an
	// error matching [ErrObserveOnly] and [subject.ErrNotApproved].
	ModeObserveOnly Mode = iota
	// ModeDryRun answers every action as a dry run: the subject reports
	// what it would do and nothing changes.
	ModeDryRun
	// ModeApproveEach asks [Config.Approver] before every action.
	ModeApproveEach
	// ModeAutomatic approves every action that passes the guard's rules;
	// the journal records the approver as "automatic".
	ModeAutomatic
)

var modeNames = [...]string{"observe-only", "dry-run", "approve-each", "automatic"}

// String returns "observe-only", "dry-run", "approve-each" or "automatic".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// ParseMode parses a mode's name as String writes it.
func ParseMode(name string) (Mode, error) {
	for i, n := range modeNames {
		if n == name {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("guard: unknown mode %q (want observe-only, dry-run, approve-each or automatic): %w", name, subject.ErrInvalid)
}

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Approver decides whether an action goes ahead. It is called after the
// guard's own rules and the dry run passed, with req.DryRun saying what the
// action would do. It may block (waiting for a person, say) until ctx ends;
// [Guard.Kill] cancels ctx. An error or an Approval that is not Approved
// refuses the action.
type Approver func(ctx context.Context, req Request) (Approval, error)

// Approval is an [Approver]'s answer.
type Approval struct {
	// Approved lets the action go ahead.
	Approved bool
	// By names who approved or refused; the journal records it. An
	// approval without it is treated as a refusal.
	By string
	// Reason is recorded with the decision.
	Reason string
}

// Cooldown is how long an action waits after the last one that was
// submitted ended, whatever its outcome. Refusals and dry runs do not
// count.
type Cooldown struct {
	// Action is the pause after the same action on any target.
	Action time.Duration
	// Target is the pause after the same action on the same target
	// ("store 4", "region 9").
	Target time.Duration
}

// DefaultDisruptive returns the actions that disturb the cluster's
// serving: they move leaders or data. Their undoing actions, the schedule
// limits and the low-space threshold are not in it.
func DefaultDisruptive() map[string]bool {
	return map[string]bool{
		ActionDrainStore: true, ActionEvictLeaders: true, ActionPrepareRestart: true,
		ActionSplitRegion: true, ActionTransferLeader: true,
	}
}

// Config configures a Guard. Every zero field has the default its comment
// names.
type Config struct {
	// Mode is what the guard lets through; the zero value is
	// ModeObserveOnly.
	Mode Mode
	// Approver is asked before every action in ModeApproveEach, where it
	// is required. It must be nil in ModeAutomatic, where it would never
	// be asked; other modes never ask it.
	Approver Approver
	// Disruptive names the actions subject to the blast radius and the
	// stability gate: an action is disruptive when its value is true. nil
	// means DefaultDisruptive(); a non-nil map replaces it entirely.
	Disruptive map[string]bool
	// Cooldowns holds the cooldown of each action, by name; an action not
	// in it has none.
	Cooldowns map[string]Cooldown
	// Rate is how many actions per second may be submitted, on average;
	// Burst how many at once. Zero Rate means no limit, zero Burst means
	// 1. Dry runs and refusals do not count.
	Rate  rate.Limit
	Burst int
	// Clock returns the current time (default time.Now). Cooldowns, the
	// rate limit and the journal's timestamps read it.
	Clock func() time.Time
	// Logger receives every journal record: refusals, failures and
	// unconfirmed outcomes at Warn, the rest at Info (default: discard).
	Logger *slog.Logger
	// Journal receives every record as one JSON object per line (default:
	// none). Writes are serialised; each record, newline included, is one
	// Write call, and a Write that fails is an error the caller sees (see
	// [JournalError]). For a journal to be replayed after a crash, use a
	// [FileJournal] (OpenFileJournal): synced, repaired and locked.
	Journal io.Writer
	// Confirm decides, after a crash or an unconfirmed outcome, whether an
	// action took effect, from a fresh dry run of it (see
	// [Guard.Recheck]). nil means [DefaultConfirm]: applied when the dry
	// run reports NoChange, unknown otherwise (the action stays unresolved
	// until [Guard.Resolve] is called). Set it to override that.
	Confirm ConfirmFunc
	// Extra holds a subject's actions beyond [subject.Actor], by name, for
	// [Guard.Do] to run through the same rules and [Guard.Recheck] to
	// dry-run after a crash. A name of an Actor method is refused.
	Extra map[string]ActionFunc
	// NewID returns a record id for each action, unique in the journal
	// (default: 26 random base32 characters, crypto/rand.Text).
	NewID func() string
	// Leadership, when set, is asked whether this replica leads its
	// operator's replicas immediately before each action is submitted
	// (see [Leadership]); nil means this guard's process is the only
	// actor. tikv/election's Term implements it.
	Leadership Leadership
	// ApprovalTimeout bounds how long the Approver may take to decide, in
	// real time, after which the action is refused with
	// [ErrApprovalExpired] and the Approver's context is cancelled
	// (default DefaultApprovalTimeout). A disruptive action holds the
	// blast radius while it waits. Negative is invalid.
	ApprovalTimeout time.Duration
	// MaintenanceLock is the cluster-wide lock, shared with every other
	// tool, that the guard takes for drains, leader evictions and
	// restarts (see [MaintenanceLock]). nil means the subject's own when
	// it implements MaintenanceLock (tikv.Subject does: PD's maintenance
	// lock), none otherwise.
	MaintenanceLock MaintenanceLock
	// NoMaintenanceLock takes no maintenance lock, not even the
	// subject's: this guard then coordinates with nobody but itself.
	NoMaintenanceLock bool
	// Identity names this operator in the description of the maintenance
	// lock's tasks, which other tools show their users (default: the
	// program's name).
	Identity string
	// OnAction, when set, is called once for every action the guard was
	// asked for, when the call returns, on the caller's goroutine, with
	// how it ended (for metrics: package tikv/opmetrics). It must be
	// quick and safe for concurrent use. Default: none.
	OnAction func(ActionInfo)
}

// DefaultApprovalTimeout is the default of Config.ApprovalTimeout: long
// enough for a person paged to look, short enough that a forgotten
// request does not hold the blast radius for good. Whatever the wait, the
// blast radius and the stability gate are read again after approval.
const DefaultApprovalTimeout = 15 * time.Minute

// builtin names the actions of subject.Actor.
var builtin = map[string]bool{
	ActionTransferLeader: true, ActionSplitRegion: true, ActionDrainStore: true, ActionUndrainStore: true,
	ActionEvictLeaders: true, ActionRestoreLeaders: true, ActionSetScheduleLimit: true, ActionSetLowSpaceThreshold: true,
}

func (cfg Config) validate() error {
	var errs []error
	if int(cfg.Mode) >= len(modeNames) {
		errs = append(errs, fmt.Errorf("unknown mode %d", cfg.Mode))
	}
	if cfg.Mode == ModeApproveEach && cfg.Approver == nil {
		errs = append(errs, errors.New("mode approve-each needs an Approver"))
	}
	if cfg.Mode == ModeAutomatic && cfg.Approver != nil {
		errs = append(errs, errors.New("mode automatic never asks the Approver; use approve-each or leave it nil"))
	}
	if cfg.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %v is negative", cfg.Rate))
	}
	if cfg.ApprovalTimeout < 0 {
		errs = append(errs, fmt.Errorf("approval timeout %v is negative", cfg.ApprovalTimeout))
	}
	if cfg.Burst < 0 {
		errs = append(errs, fmt.Errorf("burst %d is negative", cfg.Burst))
	}
	for name, c := range cfg.Cooldowns {
		if c.Action < 0 || c.Target < 0 {
			errs = append(errs, fmt.Errorf("cooldown of %s is negative", name))
		}
	}
	for name, fn := range cfg.Extra {
		switch {
		case builtin[name]:
			errs = append(errs, fmt.Errorf("extra action %s is a subject.Actor method", name))
		case name == "" || fn == nil:
			errs = append(errs, fmt.Errorf("extra action %q needs a name and a function", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("guard: %w: %w", subject.ErrInvalid, err)
	}
	return nil
}
