// Command weight measures what importing the library costs a user's
// program, in one run:
//
//	go run ./internal/bench/weight
//
// For each program below it builds a stripped binary (go build -trimpath
// -ldflags="-s -w") and reports its size, and counts the packages it
// links (go list -deps), all of them and those outside the standard
// library:
//
//   - minimal: the smallest useful program importing tikv
//     (internal/bench/weight/minimal);
//   - operator: a new user's small operator, README's Usage loop
//     (internal/bench/weight/operator);
//   - rulesoperator: the same judging Prometheus rule files
//     (internal/bench/weight/rulesoperator);
//   - watch: examples/watch, which does both and simulates a cluster.
//
// It also counts the packages of the library's own packages, for which the
// size of a binary means nothing. -v lists, for each program, the modules
// outside the standard library with their package counts. Its last line is
//
//	minimalBytes=N tikvDeps=D operatorPkgs=P rulesOperatorPkgs=R
//
// the figures of issue 23's targets (a minimal tikv program at most 8 MB
// stripped; tikv at most 60 packages outside the standard library).
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kvops/operator/internal/bench/modroot"
)

const module = "github.com/kvops/operator/"

// programs are built and weighed; packages are only counted.
var (
	programs = []string{"internal/bench/weight/minimal", "internal/bench/weight/operator", "internal/bench/weight/rulesoperator", "examples/watch"}
	packages = []string{"tikv", "pdclient", "promclient", "subject", "invariant", "logparse", "promclient/rules", "tikv/tikvtest"}
)

func main() {
	verbose := flag.Bool("v", false, "list each program's modules outside the standard library")
	flag.Parse()
	if err := run(context.Background(), *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "weight:", err)
		os.Exit(1)
	}
}

// deps is what go list -deps says of a package.
type deps struct {
	all, nonStd int
	modules     map[string]int // module path -> packages, outside std
}

func run(ctx context.Context, verbose bool) error {
	root, err := modroot.Find()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "weight")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	sizes := map[string]int64{}
	counts := map[string]deps{}
	fmt.Printf("%-40s %12s %8s %8s\n", "package", "stripped", "deps", "non-std")
	for _, p := range append(slices.Clone(programs), packages...) {
		d, err := listDeps(ctx, root, p)
		if err != nil {
			return err
		}
		counts[p] = d
		size := "-"
		if slices.Contains(programs, p) {
			bin := filepath.Join(tmp, filepath.Base(p))
			cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./"+p)
			cmd.Dir, cmd.Stderr = root, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("build %s: %w", p, err)
			}
			fi, err := os.Stat(bin)
			if err != nil {
				return err
			}
			sizes[p] = fi.Size()
			size = fmt.Sprintf("%.2f MB", float64(fi.Size())/1e6)
		}
		fmt.Printf("%-40s %12s %8d %8d\n", p, size, d.all, d.nonStd)
		if verbose {
			mods := slices.SortedFunc(func(yield func(string) bool) {
				for m := range d.modules {
					if !yield(m) {
						return
					}
				}
			}, func(a, b string) int { return cmp.Or(cmp.Compare(d.modules[b], d.modules[a]), cmp.Compare(a, b)) })
			for _, m := range mods {
				fmt.Printf("    %4d %s\n", d.modules[m], m)
			}
		}
	}
	fmt.Printf("minimalBytes=%d tikvDeps=%d operatorPkgs=%d rulesOperatorPkgs=%d\n",
		sizes[programs[0]], counts["tikv"].nonStd, counts[programs[1]].all, counts[programs[2]].all)
	return nil
}

// listDeps counts the packages p links, with go list -deps.
func listDeps(ctx context.Context, root, p string) (deps, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{if .Standard}}std{{else}}{{with .Module}}{{.Path}}{{end}}{{end}}", "./"+p)
	cmd.Dir, cmd.Stderr = root, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return deps{}, fmt.Errorf("go list -deps %s%s: %w", module, p, err)
	}
	d := deps{modules: map[string]int{}}
	for _, m := range strings.Fields(string(out)) {
		d.all++
		if m != "std" {
			d.nonStd++
			d.modules[m]++
		}
	}
	return d, nil
}
