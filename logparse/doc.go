// Package logparse reads the unified log format that TiKV, PD and TiDB
// write,
//
//	[2024/07/24 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
//
// and TiKV's JSON log format, into [Entry] values; writes entries back in
// the same format ([Format]); and extracts the leadership and store events
// an operator watches for ([EventOf], [EventReader]).
//
// Every Entry owns its memory: [ParseLine] parses one line, and a [Reader]
// streams entries from an io.Reader ([Reader.All]) that may be kept. For
// reading without allocating, [Reader.AllRaw] hands out each entry as a
// [RawEntry] of []byte borrowed from the reader's buffers, valid until the
// next call, as bufio.Scanner does. Lines that do not start an entry (a panic, a stack trace)
// are attached to the entry before them. A line that does not parse, or an
// entry longer than the limit, is an error for that entry only; the stream
// goes on.
package logparse
