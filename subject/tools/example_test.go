package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
)

// A tool of one's own: its input schema comes from the argument type, and
// arguments it does not allow are refused before the function is called.
func Example() {
	type labelArgs struct {
		StoreID subject.StoreID `json:"store_id" jsonschema:"the store's id"`
	}
	t, err := tools.New("store_label", "A store's label.", tools.KindObservation, subject.Annotations{},
		func(_ context.Context, a labelArgs) (string, error) { return fmt.Sprintf("tikv-%d", a.StoreID), nil })
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := t.Call(context.Background(), json.RawMessage(`{"store_id":4}`))
	fmt.Println(string(out), err)
	_, err = t.Call(context.Background(), json.RawMessage(`{"store_id":0}`))
	fmt.Println(errors.Is(err, subject.ErrInvalid), t.Annotations.ReadOnly)
	// Output:
	// "tikv-4" <nil>
	// true true
}
