package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

type simClock struct{ t time.Time }

func (c *simClock) Now() time.Time { return c.t }

// newSubject serves a simulated five-store cluster and returns a Subject
// on it, with no Prometheus.
func newSubject(t *testing.T) (*tikvtest.Cluster, *tikv.Subject) {
	t.Helper()
	cl := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Regions: 30, Seed: 1,
		Clock: &simClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}})
	cl.Advance(time.Second)
	sub, err := tikv.New(tikv.Config{
		PD:             pdclient.Config{Endpoints: []string{cl.PDURL()}},
		DisableMetrics: true,
		Clock:          cl.Now,
		Actions:        tikv.ActionConfig{PollInterval: time.Second},
		Sleep: func(ctx context.Context, d time.Duration) error {
			cl.Advance(d)
			return ctx.Err()
		},
	})
	require.NoError(t, err)
	return cl, sub
}

func TestDispatcherServesWhatTheSubjectOffers(t *testing.T) {
	_, sub := newSubject(t)
	d, err := tools.NewDispatcher(sub)
	require.NoError(t, err)
	var got []string
	for _, tool := range d.Tools() {
		got = append(got, tool.Name)
		require.NotNil(t, tool.Input, tool.Name)
		require.NotNil(t, tool.Output, tool.Name)
		if tool.Kind == tools.KindObservation && !tool.Annotations.ReadOnly {
			t.Errorf("%s: an observation must be read-only", tool.Name)
		}
		if tool.Kind == tools.KindAction && tool.Annotations.ReadOnly {
			t.Errorf("%s: an action is not read-only", tool.Name)
		}
	}
	var want []string
	caps := sub.Capabilities()
	for _, o := range caps.Observations {
		want = append(want, o.Name)
	}
	for _, a := range caps.Actions {
		want = append(want, a.Name)
	}
	slices.Sort(want)
	// Without Prometheus or logs the subject offers no metrics and no
	// leadership changes, and neither does the dispatcher.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tools (-capabilities +dispatcher):\n%s", diff)
	}
	if _, ok := d.Tool("store_metrics"); ok {
		t.Errorf("store_metrics served by a subject without Prometheus")
	}
}

func TestDispatcherCallsByName(t *testing.T) {
	_, sub := newSubject(t)
	d, err := tools.NewDispatcher(sub)
	require.NoError(t, err)
	ctx := t.Context()

	out, err := d.Call(ctx, "stores", nil)
	require.NoError(t, err)
	var stores []subject.Store
	require.NoError(t, json.Unmarshal(out, &stores))
	direct, err := sub.Stores(ctx)
	require.NoError(t, err)
	if diff := cmp.Diff(direct, stores); diff != "" {
		t.Errorf("stores by name differ from a direct call (-direct +by name):\n%s", diff)
	}

	out, err = d.Call(ctx, "set_schedule_limit", json.RawMessage(`{"kind":"leader","limit":7}`))
	require.NoError(t, err)
	var res subject.Result
	require.NoError(t, json.Unmarshal(out, &res))
	if res.Action != "set_schedule_limit" || res.DryRun {
		t.Errorf("result = %+v, want a real set_schedule_limit", res)
	}
	cfg, err := sub.PD().ScheduleConfig(ctx)
	require.NoError(t, err)
	if got := cfg.LeaderScheduleLimit; got != 7 {
		t.Errorf("leader-schedule-limit = %d after the call, want 7", got)
	}
}

func TestDispatcherRefusesBadArguments(t *testing.T) {
	_, sub := newSubject(t)
	d, err := tools.NewDispatcher(sub)
	require.NoError(t, err)
	before, err := sub.PD().ScheduleConfig(t.Context())
	require.NoError(t, err)
	for _, tc := range []struct{ name, tool, args string }{
		{"unknown tool", "reboot_cluster", `{}`},
		{"not JSON", "set_schedule_limit", `{kind:`},
		{"missing field", "set_schedule_limit", `{"kind":"leader"}`},
		{"wrong type", "set_schedule_limit", `{"kind":"leader","limit":"seven"}`},
		{"not in enum", "set_schedule_limit", `{"kind":"hot-region","limit":1}`},
		{"negative", "set_schedule_limit", `{"kind":"leader","limit":-1}`},
		{"unknown field", "set_schedule_limit", `{"kind":"leader","limit":1,"force":true}`},
		{"id zero", "evict_leaders", `{"store_id":0}`},
		{"out of range", "set_low_space_threshold", `{"percent":140}`},
		{"array", "drain_store", `[1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Call(t.Context(), tc.tool, json.RawMessage(tc.args))
			if !errors.Is(err, subject.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	after, err := sub.PD().ScheduleConfig(t.Context())
	require.NoError(t, err)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("bad calls changed PD's config:\n%s", diff)
	}
	stores, err := sub.Stores(t.Context())
	require.NoError(t, err)
	for _, st := range stores {
		if st.State != subject.StateUp {
			t.Errorf("store %d is %v after refused calls", st.ID, st.State)
		}
	}
}

func TestDescribeFillsSchemas(t *testing.T) {
	c, err := tools.Describe(subject.Capabilities{
		Actions:      []subject.ActionSpec{{Name: "drain_store"}, {Name: "custom"}},
		Observations: []subject.ObservationSpec{{Name: "stores"}},
	})
	require.NoError(t, err)
	drain := c.Actions[0]
	var input struct {
		Required []string `json:"required"`
	}
	require.NoError(t, json.Unmarshal(drain.Input, &input))
	if diff := cmp.Diff([]string{"store_id"}, input.Required); diff != "" {
		t.Errorf("drain_store required (-want +got):\n%s", diff)
	}
	if !drain.Annotations.Destructive || !drain.Annotations.Reversible || drain.Annotations.UndoneBy == "" {
		t.Errorf("drain_store annotations = %+v", drain.Annotations)
	}
	if c.Actions[1].Input != nil {
		t.Errorf("a capability Describe does not know got a schema")
	}
	if !c.Observations[0].Annotations.ReadOnly || c.Observations[0].Output == nil {
		t.Errorf("stores = %+v", c.Observations[0])
	}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
}
