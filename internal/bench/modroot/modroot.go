// Package modroot finds the module's root directory, for the benchmark
// programs that read the module's test data when run with go run.
package modroot

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrNoModule: no go.mod in the working directory or above it.
var ErrNoModule = errors.New("no go.mod above the working directory")

// Find returns the nearest directory, from the working directory up,
// holding a go.mod.
func Find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", ErrNoModule
		}
		dir = up
	}
}
