package logparse

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseLine: ParseLine never panics, and whatever it accepts survives
// Format and ParseLine unchanged. The Reader agrees with ParseLine on a
// single entry, and the EventReader with EventOf.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`[2024/07/24 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]`,
		`[2024/07/24 12:47:12.466 +00:00] [WARN] [endpoint.rs:658] [error-response] [err="Key is locked (will clean up) primary_lock: 6D44 lock_version: 451366153729343490"]`,
		`[2024/07/24 12:47:12.951 +00:00] [INFO] [peer.rs:5483] ["on split"] [source=ipv4:127.0.0.1:53386] [split_keys="key 7480000000000000FF6900000000000000F8"] [peer_id=11] [region_id=10]`,
		`[2026/11/27 12:31:23.463 +00:00] [INFO] [raft] [zap_raft.go:77] ["3037d9ad26fb2231 became follower at term 0"]`,
		`[2026/11/27 12:31:26.011 +00:00] [INFO] [tso.go:228] ["sync and save timestamp"] [] [last=0001/01/01 00:00:00.000 +00:00]`,
		`[2024/07/24 20:47:12.982 +08:00] [ERROR] [<unknown>] ["a \"b\" [c]"] ["batch count"=1] [sql="SELECT * FROM t\nWHERE id=\"abc\""] [thread_id=17]`,
		"[2024/07/24 12:47:12.981 +00:00] [FATAL] [lib.rs:465] [\"panic\"]\ngoroutine 1 [running]:\n\tmain.go:12\n",
		`{"time":"2024/07/24 12:47:12.981 +00:00","level":"INFO","caller":"raft.rs:1170","message":"became pre-candidate at term 5","term":5,"obj":{"a":[1,"]"]}}`,
		"[2024/07/24 12:47:12.981 +00:00] [TRACE] [a.rs:1] [\"caf\xe9\"] [k=\xff\xfe] [\"\\ud83d\\ude00\"]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseLine(line)
		if err != nil {
			return
		}
		text := Format(e)
		again, err := ParseLine(text)
		if err != nil {
			t.Fatalf("ParseLine(Format(e)) failed: %v\nline: %q\nformatted: %q", err, line, text)
		}
		if diff := cmp.Diff(e, again); diff != "" {
			t.Fatalf("round trip differs (-e +again):\n%s\nline: %q\nformatted: %q", diff, line, text)
		}
		_, off1 := e.Time.Zone()
		_, off2 := again.Time.Zone()
		if off1 != off2 {
			t.Fatalf("zone offset %d became %d", off1, off2)
		}
		// The fast event path finds every event a full parse finds.
		if ev, ok := EventOf(&e); ok && e.Continuation == "" {
			got, err := NewEventReader(bytes.NewReader(line)).Next()
			if err != nil || !cmp.Equal(ev, got) {
				t.Fatalf("EventReader = %+v, %v; EventOf = %+v\nline: %q", got, err, ev, line)
			}
		}
		// A Reader reading the formatted entry gives the same entry,
		// when its lines are read the same way (no continuation line
		// that would start an entry of its own).
		if !bytes.Contains(text[:len(text)-1], []byte("\n[")) && !bytes.Contains(text[:len(text)-1], []byte("\n{")) {
			got, err := NewReader(bytes.NewReader(text)).Next()
			if err != nil {
				t.Fatalf("Reader: %v\nformatted: %q", err, text)
			}
			if diff := cmp.Diff(e, got); diff != "" {
				t.Fatalf("Reader differs (-ParseLine +Reader):\n%s\nformatted: %q", diff, text)
			}
		}
	})
}

// FuzzReader: a Reader never panics on any stream, with a small size limit
// too, and every entry it returns survives Format and ParseLine.
func FuzzReader(f *testing.F) {
	f.Add([]byte("[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] [\"x\"] [k=v]\ncontinued\n\n[2024/07/24 12:47:13.981 +08:00] [WARN] [b] [c.go:2]\r\nstray"), 64)
	f.Add([]byte("junk\n{\"time\":\"2024/07/24 12:47:12.981 +00:00\",\"level\":\"INFO\"}\n[1"), 1<<20)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		r := NewReader(bytes.NewReader(data), WithMaxEntrySize(max%4096+1))
		for i := 0; i <= len(data); i++ {
			e, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooLong) {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			again, err := ParseLine(Format(e))
			if err != nil {
				t.Fatalf("ParseLine(Format(e)): %v\nformatted: %q", err, Format(e))
			}
			if diff := cmp.Diff(e, again); diff != "" {
				t.Fatalf("round trip (-e +again):\n%s", diff)
			}
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("more calls than bytes; last error %v", err)
		}
	})
}
