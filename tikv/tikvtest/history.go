package tikvtest

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Sample is one reading of a series.
type Sample struct {
	At    time.Time
	Value float64
}

// Series is one metric series: its name, its labels and its readings, in
// time order.
type Series struct {
	Name   string
	Labels map[string]string
	// Samples are in strictly increasing time order; Prometheus keeps
	// them to the millisecond.
	Samples []Sample
}

// History is metric series at given times with given values: what a
// Prometheus would have stored. A cluster made with Config.RecordMetrics
// records its own ([Cluster.History]); a test adds any series of its own
// with [History.Add]; [BackfillPrometheus] writes them into a real
// Prometheus with promtool, so that the library's queries (or a rule
// file's) read exactly them at any evaluation time, and a test of a
// latency- or disk-driven operator is deterministic and takes no wall
// time waiting for scrapes. The zero History is empty and ready to use;
// it is not safe for concurrent use.
type History struct {
	series map[string]*recordedSeries // by name and labels, as OpenMetrics writes them
}

type recordedSeries struct {
	name    string
	labels  map[string]string
	text    string // name{labels} as OpenMetrics writes it
	samples []Sample
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Add adds a series' samples to the history, after those it holds of the
// same series (same name and labels). A name or label name outside
// Prometheus' classic character set, the label __name__, a series without
// samples, a sample without a time, or samples not strictly after the
// previous ones (Prometheus refuses samples out of order) are
// [ErrBadArgument], and add nothing.
func (h *History) Add(s Series) error {
	if !metricName.MatchString(s.Name) {
		return fmt.Errorf("%w: metric name %q", ErrBadArgument, s.Name)
	}
	for k := range s.Labels {
		if !labelName.MatchString(k) || k == "__name__" {
			return fmt.Errorf("%w: series %s: label name %q", ErrBadArgument, s.Name, k)
		}
	}
	if len(s.Samples) == 0 {
		return fmt.Errorf("%w: series %s has no samples", ErrBadArgument, s.Name)
	}
	text := seriesText(s.Name, s.Labels)
	last := time.Time{}
	if rs := h.series[text]; rs != nil {
		last = rs.samples[len(rs.samples)-1].At
	}
	for _, smp := range s.Samples {
		at := smp.At.Truncate(time.Millisecond)
		if at.IsZero() {
			return fmt.Errorf("%w: series %s: a sample has no time", ErrBadArgument, text)
		}
		if !last.IsZero() && !at.After(last) {
			return fmt.Errorf("%w: series %s: sample at %s is not after %s", ErrBadArgument, text, smp.At.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano))
		}
		last = at
	}
	rs := h.lookup(s.Name, s.Labels)
	for _, smp := range s.Samples {
		rs.samples = append(rs.samples, Sample{At: smp.At.Truncate(time.Millisecond), Value: smp.Value})
	}
	return nil
}

// lookup returns the series of that name and labels, creating it.
func (h *History) lookup(name string, labels map[string]string) *recordedSeries {
	text := seriesText(name, labels)
	if h.series == nil {
		h.series = map[string]*recordedSeries{}
	}
	rs := h.series[text]
	if rs == nil {
		rs = &recordedSeries{name: name, labels: maps.Clone(labels), text: text}
		h.series[text] = rs
	}
	return rs
}

// seriesText writes a series as OpenMetrics does: name{a="x",b="y"},
// labels sorted, values escaped.
func seriesText(name string, labels map[string]string) string {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) == 0 {
		return b.String()
	}
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(labels[k]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// Series returns a copy of every series, sorted by name, then labels.
func (h *History) Series() []Series {
	out := make([]Series, 0, len(h.series))
	for _, rs := range h.sorted() {
		out = append(out, Series{Name: rs.name, Labels: maps.Clone(rs.labels), Samples: slices.Clone(rs.samples)})
	}
	return out
}

func (h *History) sorted() []*recordedSeries {
	all := slices.Collect(maps.Values(h.series))
	slices.SortFunc(all, func(a, b *recordedSeries) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.text, b.text))
	})
	return all
}

// Clone returns a copy of the history.
func (h *History) Clone() *History {
	out := &History{series: make(map[string]*recordedSeries, len(h.series))}
	for k, rs := range h.series {
		c := *rs
		c.labels = maps.Clone(rs.labels)
		c.samples = slices.Clone(rs.samples)
		out.series[k] = &c
	}
	return out
}

// WriteOpenMetrics writes the history as OpenMetrics text with
// timestamps, ending with "# EOF": what "promtool tsdb create-blocks-from
// openmetrics" reads. Each series name is a family of type unknown, so
// that Prometheus stores every name as a scrape of the text format would
// (a counter keeps its name, with or without _total; a histogram's
// _bucket, _sum and _count series are series of their own).
func (h *History) WriteOpenMetrics(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	name := ""
	var buf []byte
	for _, rs := range h.sorted() {
		if rs.name != name {
			name = rs.name
			fmt.Fprintf(bw, "# TYPE %s unknown\n", name)
		}
		for _, s := range rs.samples {
			buf = append(buf[:0], rs.text...)
			buf = append(buf, ' ')
			buf = strconv.AppendFloat(buf, s.Value, 'g', -1, 64)
			buf = append(buf, ' ')
			ms := s.At.UnixMilli()
			buf = strconv.AppendInt(buf, ms/1000, 10)
			buf = append(buf, '.')
			buf = fmt.Appendf(buf, "%03d", ((ms%1000)+1000)%1000)
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
	}
	bw.WriteString("# EOF\n")
	return bw.Flush()
}

// recorder keeps what Config.RecordMetrics asks for.
type recorder struct {
	every time.Duration
	last  time.Time // zero before the first recording
	h     History
}

// recordMetrics records, when one is due, what a Prometheus scraping the stores
// (job "tikv") and PD's members (job "pd") would store now: every series
// of each, and up, 0 for a stopped store, whose other series then have no
// sample. c.mu is held.
func (c *Cluster) recordMetrics() {
	r := c.rec
	if r == nil || c.net == nil || c.net.closed || !r.last.IsZero() && c.now.Sub(r.last) < r.every {
		return
	}
	r.last = c.now
	for _, s := range c.stores {
		if s.statusAddress == "" {
			continue
		}
		r.up("tikv", s.statusAddress, s.running, c.now)
		if !s.running {
			continue
		}
		// The store's registry is its own: gathering it needs no lock of
		// the cluster's, and every family it holds is well formed.
		fams, _ := s.metrics.reg.Gather()
		r.families(fams, "tikv", s.statusAddress, c.now)
	}
	for i, addr := range c.net.memberAddrs {
		r.up("pd", addr, true, c.now)
		r.families(c.pdFamilies(i), "pd", addr, c.now)
	}
}

func (r *recorder) up(job, instance string, up bool, at time.Time) {
	r.sample("up", map[string]string{"job": job, "instance": instance}, at, boolValue(up))
}

// sample appends one reading; the recorder's times only grow.
func (r *recorder) sample(name string, labels map[string]string, at time.Time, v float64) {
	rs := r.h.lookup(name, labels)
	rs.samples = append(rs.samples, Sample{At: at.Truncate(time.Millisecond), Value: v})
}

// families records gathered metric families as a scrape of job's instance
// stores them: the target's job and instance labels added, a histogram as
// its _bucket (with le), _sum and _count series.
func (r *recorder) families(fams []*dto.MetricFamily, job, instance string, at time.Time) {
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{"job": job, "instance": instance}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				r.sample(f.GetName(), labels, at, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				r.sample(f.GetName(), labels, at, m.GetGauge().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					bl := maps.Clone(labels)
					bl["le"] = strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
					r.sample(f.GetName()+"_bucket", bl, at, float64(b.GetCumulativeCount()))
				}
				inf := maps.Clone(labels)
				inf["le"] = "+Inf"
				r.sample(f.GetName()+"_bucket", inf, at, float64(h.GetSampleCount()))
				r.sample(f.GetName()+"_sum", labels, at, h.GetSampleSum())
				r.sample(f.GetName()+"_count", labels, at, float64(h.GetSampleCount()))
			}
		}
	}
}

// History returns a copy of what the cluster recorded (see
// Config.RecordMetrics): empty when it records nothing.
func (c *Cluster) History() *History {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec == nil {
		return &History{}
	}
	return c.rec.h.Clone()
}
