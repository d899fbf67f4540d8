// Package record writes and reads recordings of a TiKV cluster: what PD
// answered, how its regions changed, the Prometheus series the operator's
// invariants and rule files read, and optionally log lines, over a window
// of time.
//
// A recording is JSON lines: a header, the entries in the order they were
// observed, and an end line that says how many lines came before it. JSON
// lines because a recording must stream (an hour of a 1,000-store cluster
// does not fit in memory, and neither a writer nor a reader holds more
// than one line), must be readable by other tools (jq, a notebook, a
// script) without this package, and must show a crash for what it is: a
// file whose last line is cut, or that has no end line, reads as
// [ErrTruncated], never as a shorter recording. The header names the
// format and its version; a reader refuses what it does not know.
//
// [Record] watches a live cluster for a window and writes one recording:
// at every Config.Interval, PD's answers to [DefaultPaths] as PD sent
// them (an error, or no answer at all, is recorded as such, and an answer
// equal to the last one of its path is left out); every Config.RegionsEvery
// every region, whole the first time and as what changed after; every
// Config.SeriesEvery the series of Config.Queries over the part of the
// window since the last chunk; the log lines of Config.Logs. A
// [Recorder] does the same one evaluation at a time, for a caller that
// drives a simulated cluster's clock. [Cut] keeps a part of a recording
// that replays the same state at its start; [Redact] replaces its
// addresses by placeholders and drops its credentials.
//
// tikvtest serves a recording as PD at a replay's clock, and its series
// backfilled into a real Prometheus; see package tikv/replay for running
// an operator against one.
package record
