package logparse

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006/01/02 15:04:05.000", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseLine(t *testing.T) {
	cst := time.FixedZone("", 8*3600)
	tests := []struct {
		name string
		line string
		want Entry
	}{{
		name: "tikv role change",
		line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1170] ["became pre-candidate at term 5"] [term=5] [raft_id=91] [region_id=90]`,
		want: Entry{Time: utc("2024/07/24 12:47:12.981"), Level: LevelInfo, Source: "raft.rs:1170", Message: "became pre-candidate at term 5",
			Fields: []Field{{"term", "5"}, {"raft_id", "91"}, {"region_id", "90"}}},
	}, {
		name: "bare message and quoted value",
		line: `[2024/07/24 12:47:12.466 +00:00] [WARN] [endpoint.rs:658] [error-response] [err="Key is locked (will clean up) primary_lock: 6D44 lock_version: 451366153729343490"]`,
		want: Entry{Time: utc("2024/07/24 12:47:12.466"), Level: LevelWarn, Source: "endpoint.rs:658", Message: "error-response",
			Fields: []Field{{"err", "Key is locked (will clean up) primary_lock: 6D44 lock_version: 451366153729343490"}}},
	}, {
		name: "split",
		line: `[2024/07/24 12:47:12.951 +00:00] [INFO] [peer.rs:5483] ["on split"] [source=ipv4:127.0.0.1:53386] [split_keys="key 7480000000000000FF6900000000000000F8"] [peer_id=11] [region_id=10]`,
		want: Entry{Time: utc("2024/07/24 12:47:12.951"), Level: LevelInfo, Source: "peer.rs:5483", Message: "on split",
			Fields: []Field{{"source", "ipv4:127.0.0.1:53386"}, {"split_keys", "key 7480000000000000FF6900000000000000F8"}, {"peer_id", "11"}, {"region_id", "10"}}},
	}, {
		name: "quoted key, escapes, thread id, zone offset",
		line: `[2024/07/24 20:47:12.982 +08:00] [ERROR] [<unknown>] ["a \"b\" [c]"] ["batch count"=1] [sql="SELECT * FROM t\nWHERE id=\"abc\""] [thread_id=17]`,
		want: Entry{Time: time.Date(2024, 7, 24, 20, 47, 12, 982e6, cst), Level: LevelError, Source: "<unknown>", Message: `a "b" [c]`,
			Fields: []Field{{"batch count", "1"}, {"sql", "SELECT * FROM t\nWHERE id=\"abc\""}, {"thread_id", "17"}}},
	}, {
		name: "logger name, as PD's etcd writes it",
		line: `[2026/11/27 12:31:23.463 +00:00] [INFO] [raft] [zap_raft.go:77] ["3037d9ad26fb2231 became follower at term 0"]`,
		want: Entry{Time: utc("2026/11/27 12:31:23.463"), Level: LevelInfo, Name: "raft", Source: "zap_raft.go:77", Message: "3037d9ad26fb2231 became follower at term 0"},
	}, {
		name: "empty field and unquoted time value",
		line: `[2026/11/27 12:31:26.011 +00:00] [INFO] [tso.go:228] ["sync and save timestamp"] [] [last=0001/01/01 00:00:00.000 +00:00]`,
		want: Entry{Time: utc("2026/11/27 12:31:26.011"), Level: LevelInfo, Source: "tso.go:228", Message: "sync and save timestamp",
			Fields: []Field{{"", ""}, {"last", "0001/01/01 00:00:00.000 +00:00"}}},
	}, {
		name: "no message",
		line: `[2024/07/24 12:47:12.981 +00:00] [DEBUG] [a.rs:1] [k=v]`,
		want: Entry{Time: utc("2024/07/24 12:47:12.981"), Level: LevelDebug, Source: "a.rs:1", Fields: []Field{{"k", "v"}}},
	}, {
		name: "levels FATAL and TRACE, microseconds",
		line: `[2024/07/24 12:47:12.981234 -05:30] [FATAL] [a.rs:1] [boom]`,
		want: Entry{Time: time.Date(2024, 7, 24, 12, 47, 12, 981234000, time.FixedZone("", -(5*3600+1800))), Level: LevelFatal, Source: "a.rs:1", Message: "boom"},
	}, {
		name: "invalid UTF-8 is kept",
		line: "[2024/07/24 12:47:12.981 +00:00] [TRACE] [a.rs:1] [\"caf\xe9\"] [k=\xff\xfe]",
		want: Entry{Time: utc("2024/07/24 12:47:12.981"), Level: LevelTrace, Source: "a.rs:1", Message: "caf\xe9", Fields: []Field{{"k", "\xff\xfe"}}},
	}, {
		name: "unicode escapes",
		line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] ["\u00e9\ud83d\ude00 \ufffd\t"]`,
		want: Entry{Time: utc("2024/07/24 12:47:12.981"), Level: LevelInfo, Source: "a.rs:1", Message: "é😀 \ufffd\t"},
	}, {
		name: "continuation lines and trailing newline",
		line: "[2024/07/24 12:47:12.981 +00:00] [FATAL] [lib.rs:465] [\"panic\"]\ngoroutine 1 [running]:\n\tmain.go:12\n",
		want: Entry{Time: utc("2024/07/24 12:47:12.981"), Level: LevelFatal, Source: "lib.rs:465", Message: "panic", Continuation: "goroutine 1 [running]:\n\tmain.go:12"},
	}, {
		name: "JSON format",
		line: `{"time":"2024/07/24 12:47:12.981 +00:00","level":"INFO","caller":"raft.rs:1170","message":"became pre-candidate at term 5","term":5,"raft_id":91,"region_id":90}`,
		want: Entry{Time: utc("2024/07/24 12:47:12.981"), Level: LevelInfo, Source: "raft.rs:1170", Message: "became pre-candidate at term 5",
			Fields: []Field{{"term", "5"}, {"raft_id", "91"}, {"region_id", "90"}}},
	}, {
		name: "JSON with nested values and escapes",
		line: `{ "message": "a\"b", "level": "WARN", "obj": {"x": [1, "]"]}, "ok": true, "time": "2024/07/24 12:47:12.981 +00:00", "s": "x\ny" }`,
		want: Entry{Time: utc("2024/07/24 12:47:12.981"), Level: LevelWarn, Message: `a"b`,
			Fields: []Field{{"obj", `{"x": [1, "]"]}`}, {"ok", "true"}, {"s", "x\ny"}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLine([]byte(tt.line))
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("ParseLine (-want +got):\n%s", diff)
			}
			_, wantOff := tt.want.Time.Zone()
			_, gotOff := got.Time.Zone()
			if wantOff != gotOff {
				t.Errorf("zone offset %d, want %d", gotOff, wantOff)
			}
			again, err := ParseLine(Format(got))
			require.NoError(t, err, "reparsing %q", Format(got))
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("ParseLine(Format(e)) (-e +got):\n%s", diff)
			}
		})
	}
}

func TestTextAndJSONGiveTheSameEntry(t *testing.T) {
	text, err := ParseLine([]byte(`[2024/08/07 09:44:53.909 +00:00] [INFO] [raft.rs:1120] ["became follower at term 5"] [term=5] [raft_id=45] [region_id=44] [thread_id=5]`))
	require.NoError(t, err)
	js, err := ParseLine([]byte(`{"message":"became follower at term 5","caller":"raft.rs:1120","level":"INFO","time":"2024/08/07 09:44:53.909 +00:00","term":5,"raft_id":45,"region_id":44,"thread_id":5}`))
	require.NoError(t, err)
	if diff := cmp.Diff(text, js); diff != "" {
		t.Errorf("text vs JSON (-text +json):\n%s", diff)
	}
}

func TestParseLineErrors(t *testing.T) {
	for _, line := range []string{
		"",
		"hello",
		"[2024/07/24 12:47:12.981 +00:00]",
		"[2024/07/24 12:47:12.981 +00:00] [LOUD] [a.rs:1] [x]",
		"[2024/13/24 12:47:12.981 +00:00] [INFO] [a.rs:1] [x]",
		"[2024/02/30 12:47:12.981 +00:00] [INFO] [a.rs:1] [x]",
		"[2024/07/24 12:47:12.981] [INFO] [a.rs:1] [x]",
		"[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] [\"unterminated]",
		"[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] [\"bad \\x escape\"]",
		"[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] [\"x\"y]",
		"[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] [k=v",
		"[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] junk",
		`{"level":"INFO","message":"no time"}`,
		`{"time":"2024/07/24 12:47:12.981 +00:00","level":"INFO",}`,
		`{"time":"2024/07/24 12:47:12.981 +00:00","level":"INFO","a":[1,2}`,
	} {
		_, err := ParseLine([]byte(line))
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseLine(%q) = %v, want a *SyntaxError", line, err)
			continue
		}
		if !strings.HasPrefix(line, se.Text) {
			t.Errorf("SyntaxError.Text %q is not the start of %q", se.Text, line)
		}
	}
}

func TestEntryLookupAndClone(t *testing.T) {
	line := []byte(`[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1170] ["became leader at term 5"] [term=5] [raft_id=91] [region_id=90] [neg=-1]`)
	r := NewReader(strings.NewReader(string(line)))
	e, err := r.Next()
	require.NoError(t, err)
	v, ok := e.Lookup("raft_id")
	if !ok || v != "91" {
		t.Errorf("Lookup(raft_id) = %q, %v", v, ok)
	}
	if _, ok := e.Lookup("absent"); ok {
		t.Error("Lookup(absent) found something")
	}
	if n, ok := e.Uint("region_id"); !ok || n != 90 {
		t.Errorf("Uint(region_id) = %d, %v", n, ok)
	}
	if _, ok := e.Uint("neg"); ok {
		t.Error("Uint(neg) parsed a negative number")
	}
	c := e.Clone()
	if diff := cmp.Diff(e, c); diff != "" {
		t.Errorf("Clone differs:\n%s", diff)
	}
}

func TestLevel(t *testing.T) {
	for _, name := range []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"} {
		lv, ok := ParseLevel(name)
		if !ok || lv.String() != name {
			t.Errorf("ParseLevel(%q) = %v, %v", name, lv, ok)
		}
	}
	for name, want := range map[string]Level{"warning": LevelWarn, "Critical": LevelFatal, "info": LevelInfo} {
		if lv, ok := ParseLevel(name); !ok || lv != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", name, lv, ok, want)
		}
	}
	if _, ok := ParseLevel("LOUD"); ok {
		t.Error("ParseLevel(LOUD) succeeded")
	}
}

func TestFormat(t *testing.T) {
	e := Entry{
		Time: time.Date(2024, 7, 24, 12, 47, 12, 982e6, time.UTC), Level: LevelInfo, Source: "raft.rs:1228",
		Message: "became leader at term 6",
		Fields:  []Field{{"term", "6"}, {"raft_id", "91"}, {"region_id", "90"}, {"batch count", "1"}, {"sql", "a=\"b\"\n"}},
	}
	want := `[2024/07/24 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90] ["batch count"=1] [sql="a=\"b\"\n"]` + "\n"
	if got := string(Format(e)); got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
	// A message that reads as a source position, and an empty message
	// before a key-less field, are quoted so they read back the same.
	odd := Entry{Time: e.Time, Level: LevelWarn, Message: "main.go:12", Fields: []Field{{"", "x"}}}
	again, err := ParseLine(Format(odd))
	require.NoError(t, err)
	if diff := cmp.Diff(odd, again); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	noMsg := Entry{Time: e.Time, Level: LevelWarn, Source: "a.go:1", Fields: []Field{{"", "x"}}}
	again, err = ParseLine(Format(noMsg))
	require.NoError(t, err)
	if diff := cmp.Diff(noMsg, again); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
