//go:build race

package invariant

// raceEnabled: the race detector changes inlining and escape analysis, so
// allocation counts measured under it mean nothing.
const raceEnabled = true
