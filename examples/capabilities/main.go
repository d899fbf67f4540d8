// Command capabilities prints, as JSON, what a TiKV subject can observe and
// do and the SLOs it is judged by: the description an AI agent's
// tool-calling layer or a UI reads to discover the subject. It does no I/O.
//
// Run it with:
//
//	go run ./examples/capabilities
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/kvops/operator/tikv"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "capabilities:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	sub, err := tikv.New(tikv.Config{})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sub.Capabilities())
}
