package record

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kvops/operator/subject"
)

// Format names the file format in every header; Version is the version
// this package writes. A reader refuses other formats and newer versions
// with an *[UnsupportedError].
const (
	Format  = "kvops-recording"
	Version = 1
)

// Kind says what one line of a recording holds.
type Kind string

// The kinds of line. A recording is a [KindHeader] line, any number of
// the others in the order they were observed (Series lines may come in
// chunks, each covering a part of the window), and a [KindEnd] line. A
// file without its end line was cut short: [Reader.Next] says
// [ErrTruncated] rather than take it for a whole recording.
const (
	KindHeader  Kind = "header"
	KindPD      Kind = "pd"
	KindRegions Kind = "regions"
	KindSeries  Kind = "series"
	KindLog     Kind = "log"
	KindEnd     Kind = "end"
)

// Entry is one line of a recording: Kind says which one of the other
// fields is set. On disk it is one JSON object per line,
// {"kind":"pd","pd":{...}}, so that jq and other tools read it:
//
//	jq -c 'select(.kind=="pd") | .pd | [.at, .path, .status]' incident.jsonl
type Entry struct {
	Kind    Kind     `json:"kind"`
	Header  *Header  `json:"header,omitempty"`
	PD      *PD      `json:"pd,omitempty"`
	Regions *Regions `json:"regions,omitempty"`
	Series  *Series  `json:"series,omitempty"`
	Log     *Log     `json:"log,omitempty"`
	End     *End     `json:"end,omitempty"`
}

// At is the time the entry was observed: for a Series chunk, the end of
// the range it covers; zero for a header.
func (e Entry) At() time.Time {
	switch {
	case e.PD != nil:
		return e.PD.At
	case e.Regions != nil:
		return e.Regions.At
	case e.Series != nil:
		return e.Series.To
	case e.Log != nil:
		return e.Log.At
	case e.End != nil:
		return e.End.At
	}
	return time.Time{}
}

// Header describes a recording. It is the first line of every file.
type Header struct {
	// Format is [Format] and Version the version of the file.
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Start and End bound the window the recording covers, as planned
	// when it began; [End] says where it actually ended.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Interval is the time between two evaluations of the recorded
	// cluster: the PD answers come at this pace.
	Interval Duration `json:"interval"`
	// PD and Prometheus are the addresses recorded from ("" when
	// redacted or unknown).
	PD         string `json:"pd,omitempty"`
	Prometheus string `json:"prometheus,omitempty"`
	// Queries are the Prometheus series selectors the Series lines
	// answer, in the order they were recorded.
	Queries []string `json:"queries,omitempty"`
	// Redacted says that addresses and secrets were replaced by
	// placeholders (see Redact).
	Redacted bool `json:"redacted,omitempty"`
	// Labels carry anything else the recorder wants said (the cluster's
	// name, the incident's ticket).
	Labels map[string]string `json:"labels,omitempty"`
}

// PD is one answer of PD's HTTP API, as it was sent: a replay answers the
// same request with the same status and body.
type PD struct {
	At time.Time `json:"at"`
	// Method is the request's method ("" reads as GET) and Path its path
	// with its query, as sent to PD ("/pd/api/v1/stores").
	Method string `json:"method,omitempty"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	// ContentType is the Content-Type header PD answered with.
	ContentType string `json:"content_type,omitempty"`
	// Body is PD's answer: JSON when PD answered JSON, else a JSON
	// string holding the text, and Text is set.
	Body json.RawMessage `json:"body,omitempty"`
	// Text says that Body is a JSON string holding PD's answer, which
	// was not JSON (a text/plain error: "no leader\n"); a replay sends
	// the string's text.
	Text bool `json:"text,omitempty"`
	// Error, with Status 0 and no Body, says that no PD member answered
	// (PD down, unreachable, timed out): what the recorder's client said.
	// A replay answers the path as unreachable until the next answer.
	Error string `json:"error,omitempty"`
}

// Regions is a line of one read of the cluster's regions. A read is the
// Regions lines with the same At, one after the other, each holding at
// most one page of PD's answer (10,240 regions). A Full read lists every
// region; any other lists the regions that changed since the previous
// read (added, or whose epoch, leader, peers, down or pending peers
// changed: the statistics of a region, its size and flow, are not
// followed) and, on its last line, those removed. The last line of a
// whole read has Done set: a reader applies a read once it has it.
//
// A read that failed part way (PD went down) ends with a line carrying
// Error: a reader ignores that whole read, and the next read is Full.
type Regions struct {
	At   time.Time `json:"at"`
	Full bool      `json:"full,omitempty"`
	// Count is the number of regions the read listed up to the end of
	// this line: on the read's last line, the number the cluster had at
	// At.
	Count int `json:"count"`
	// Changed holds PD's region objects, as PD's /regions answers
	// carry them.
	Changed []json.RawMessage `json:"changed,omitempty"`
	// Removed are the ids of regions that no longer exist (merged).
	Removed []uint64 `json:"removed,omitempty"`
	// Done marks the last line of a whole read.
	Done bool `json:"done,omitempty"`
	// Error says that the read failed here: ignore the read.
	Error string `json:"error,omitempty"`
}

// Series is the samples of one Prometheus series over [From, To].
type Series struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Labels are the series' labels, its name under "__name__".
	Labels map[string]string `json:"labels"`
	// Samples are in time order.
	Samples []Sample `json:"samples"`
}

// Sample is one value of a series. On disk it is a pair
// [unix milliseconds, "value"], the value a string as Prometheus writes
// it so that NaN and ±Inf survive.
type Sample struct {
	T time.Time
	V float64
}

// Log is one log line of a recorded source.
type Log struct {
	At time.Time `json:"at"`
	// Source names where the line came from ("tikv-1", "pd").
	Source string `json:"source"`
	Line   string `json:"line"`
}

// End is the last line of a whole recording.
type End struct {
	// At is where the recording ended (at most Header.End).
	At time.Time `json:"at"`
	// Entries counts the lines before this one, the header included:
	// a reader checks it.
	Entries int64 `json:"entries"`
}

// Duration is a time.Duration written as Go writes it ("10s").
type Duration time.Duration

// MarshalText writes d as time.Duration's String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses what MarshalText writes.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("record: duration %q: %w: %w", b, subject.ErrInvalid, err)
	}
	*d = Duration(v)
	return nil
}
