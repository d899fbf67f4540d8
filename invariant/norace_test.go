//go:build !race

package invariant

const raceEnabled = false
