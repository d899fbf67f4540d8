package guard

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/kvops/operator/subject"
)

// withRaw returns a with its typed fields merged into Raw, the JSON
// arguments an extra action made from a subject's tool takes, and Store
// read back from Raw's store_id when only Raw names it: so that
// Do(ctx, "prepare_restart", Args{Store: 1}) and Do with the tool's JSON
// arguments alone (tikv.RestartArgs, say, for the options of a restart)
// call the same thing, and the journal records one form. A typed field
// and a Raw field of the same name that disagree are an error matching
// subject.ErrInvalid.
func (a Args) withRaw() (Args, error) {
	typed := a
	typed.Raw = nil
	tb, err := json.Marshal(typed)
	if err != nil {
		return a, err
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(tb, &fields); err != nil {
		return a, err
	}
	merged := map[string]json.RawMessage{}
	if r := bytes.TrimSpace(a.Raw); len(r) > 0 && !bytes.Equal(r, []byte("null")) {
		if err := json.Unmarshal(r, &merged); err != nil {
			return a, fmt.Errorf("guard: Args.Raw must be a JSON object: %v: %w", err, subject.ErrInvalid)
		}
	}
	for k, v := range fields {
		if old, ok := merged[k]; ok && !sameJSON(old, v) {
			return a, fmt.Errorf("guard: Args names %s twice: %s in Raw, %s typed: %w", k, old, v, subject.ErrInvalid)
		}
		merged[k] = v
	}
	if a.Store == 0 {
		if v, ok := merged["store_id"]; ok {
			// An id that is not a store id is left for the tool's schema
			// to refuse.
			_ = json.Unmarshal(v, &a.Store)
		}
	}
	if len(merged) == 0 && len(a.Raw) == 0 {
		return a, nil
	}
	// encoding/json writes a map's keys sorted: one form per call.
	a.Raw, err = json.Marshal(merged)
	return a, err
}

// sameJSON reports whether two JSON values are equal as values (1 and
// 1.0, say, are).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
