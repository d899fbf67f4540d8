// Command regions measures how fast, and in how much memory, pdclient reads
// the regions of a large cluster, against plain encoding/json into a slice
// (what PD's own Go HTTP client does with GET /regions) in the same run.
//
// The parent synthesises N regions in PD's byte format (compact JSON, PD's
// field order), using the recorded regions embedded from sample-regions.json
// as templates and giving each region its own id, keys, peers and leader,
// and serves PD's two regions endpoints over them on a loopback listener:
// GET /pd/api/v1/regions, the whole answer in no key order (as PD lists
// it), and GET /pd/api/v1/regions/key, a page of regions in key order, each
// answer rendered beforehand and written at once, as PD does. It
// then re-runs itself as a child process once per decoder, so that one's
// peak memory does not hide another's. Each child reads every region over
// HTTP (summing ids, which the parent checks) and reports its elapsed time
// and its peak RSS (VmHWM); the parent adds the child's CPU time.
//
// The decoders:
//
//   - "pdclient": pdclient.Client.AllRegions, paging /regions/key
//     pdclient.DefaultPageSize regions at a time (PD's maximum, 10,240);
//     each page is read whole and screened (pdclient's plainAnswer) on one
//     goroutine while the page before is decoded by easyjson's generated
//     code on another.
//   - "encoding-json": the baseline, the whole answer read, then
//     json.Unmarshal into a slice.
//
// (The candidates of issue 14, jsontext's and jsoniter's streams and a
// splitter feeding easyjson or jsoniter, and the second copy of easyjson's
// generated code they needed, were removed once easyjson was chosen.)
//
// Run it from the module root:
//
//	go run ./internal/bench/regions -n 1000000
//
// The last line printed is:
//
//	regions=N MBps=X peakRSSMB=Y baselineMBps=Z baselinePeakRSSMB=W
//
// where MB is 10^6 bytes, MBps is the answer's size over the decoding time,
// the first figures are pdclient's and the baseline figures are
// encoding/json's. The lines before give each decoder's figures, by
// elapsed and by CPU time.
package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/pdclient"
)

// childEnv, when set, makes the program a child that reads the regions from
// the server whose address is its argument, with the decoder the variable
// names.
const childEnv = "KVOPS_BENCH_REGIONS_CHILD"

// profileEnv, when set to a path, makes each child write its CPU profile to
// that path with the decoder's name appended.
const profileEnv = "KVOPS_BENCH_REGIONS_CPUPROFILE"

// The decoders, pdclient's first and the baseline last.
var decoders = []struct {
	name   string
	decode func(base string, pageSize int) (n int, idSum uint64, err error)
}{
	{"pdclient", decodeAllRegions},
	{"encoding-json", whole(decodeBaseline)},
}

//go:embed sample-regions.json
var sampleRegions []byte

// answer is a regions answer as encoding/json sees it.
type answer struct {
	Count   int               `json:"count"`
	Regions []pdclient.Region `json:"regions"`
}

func main() {
	var err error
	if which := os.Getenv(childEnv); which != "" {
		err = child(which, os.Args[1:])
	} else {
		err = run(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "regions:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("regions", flag.ContinueOnError)
	n := fs.Int("n", 1000000, "number of regions in the synthesised answer")
	page := fs.Int("page", pdclient.DefaultPageSize, "regions per page of /regions/key (AllRegions' page size)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *page < 1 {
		return fmt.Errorf("-page must be at least 1, not %d", *page)
	}
	if *n < 1 {
		return fmt.Errorf("-n must be at least 1, not %d", *n)
	}

	start := time.Now()
	srv, err := newServer(*n, *page)
	if err != nil {
		return fmt.Errorf("rendering the answer: %w", err)
	}
	defer srv.Close()
	size, idSum := srv.size, srv.idSum
	fmt.Printf("answer: %d regions, %d bytes (%.1f bytes a region), rendered in %v; pages of %d regions\n",
		*n, size, float64(size)/float64(*n), time.Since(start).Round(time.Millisecond), *page)

	var results []result
	for _, d := range decoders {
		r, err := measure(d.name, srv.URL, *page, *n, idSum)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	chosen, baseline := results[0], results[len(results)-1]
	for _, r := range results {
		// On a shared machine the wall time also counts waiting for a CPU:
		// the CPU time shows how much of it was work.
		fmt.Printf("%s: %v (CPU time %v), %.1f MB/s (%.1fx the baseline; %.1fx by CPU time), peak RSS %.1f MB\n",
			r.decoder, r.elapsed.Round(time.Millisecond), r.cpu.Round(time.Millisecond), r.mbps(size),
			r.mbps(size)/baseline.mbps(size), baseline.cpu.Seconds()/r.cpu.Seconds(), r.peakRSSMB())
	}
	fmt.Printf("regions=%d MBps=%.1f peakRSSMB=%.1f baselineMBps=%.1f baselinePeakRSSMB=%.1f\n",
		*n, chosen.mbps(size), chosen.peakRSSMB(), baseline.mbps(size), baseline.peakRSSMB())
	return nil
}

// synthesise writes a regions answer of n regions to w, in PD's byte format,
// and returns its size and the sum of its region ids.
func synthesise(w io.Writer, n int) (size int64, idSum uint64, err error) {
	samples, err := loadSamples()
	if err != nil {
		return 0, 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countingWriter{w: bw}
	fmt.Fprintf(cw, `{"count":%d,"regions":[`, n)
	// PD lists regions in no key order: visit the key space with a stride
	// coprime to n, which touches every slot once.
	stride := 7919 % n
	for gcd(stride, n) != 1 {
		stride++
	}
	var buf []byte
	for i := range n {
		slot := (i * stride) % n
		r := makeRegion(&samples.Regions[slot%len(samples.Regions)], slot, n)
		idSum += r.ID
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, ',')
		}
		b, err := json.Marshal(&r)
		if err != nil {
			return 0, 0, err
		}
		buf = append(buf, b...)
		if _, err := cw.Write(buf); err != nil {
			return 0, 0, err
		}
	}
	if _, err := io.WriteString(cw, "]}"); err != nil {
		return 0, 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, err
	}
	return cw.n, idSum, nil
}

// loadSamples returns the recorded regions the synthesised ones are made
// from.
func loadSamples() (answer, error) {
	var samples answer
	if err := json.Unmarshal(sampleRegions, &samples); err != nil {
		return answer{}, fmt.Errorf("sample regions: %w", err)
	}
	if len(samples.Regions) == 0 {
		return answer{}, errors.New("sample regions: none")
	}
	return samples, nil
}

// makeRegion makes the region in key-space slot of n from a recorded
// template: its own id, keys, three peers on distinct stores of five, and a
// leader among them; epoch, flows and sizes as the template has them.
func makeRegion(tmpl *pdclient.Region, slot, n int) pdclient.Region {
	r := *tmpl
	r.ID = uint64(slot)*4 + 100 // PD allocates peer ids just below their region's
	r.StartKey, r.EndKey = regionKey(slot), regionKey(slot+1)
	if slot == 0 {
		r.StartKey = ""
	}
	if slot == n-1 {
		r.EndKey = ""
	}
	stores := [3]uint64{}
	stores[0] = uint64(slot % 5)
	stores[1] = (stores[0] + 1 + uint64(slot/5%4)) % 5
	stores[2] = (stores[1] + 1) % 5
	if stores[2] == stores[0] {
		stores[2] = (stores[2] + 1) % 5
	}
	r.Peers = make([]pdclient.Peer, 3)
	for j := range r.Peers {
		r.Peers[j] = pdclient.Peer{RoleName: "Voter", ID: r.ID - 3 + uint64(j), StoreID: stores[j] + 1}
	}
	r.Leader = r.Peers[slot/7%3]
	return r
}

// regionKey is the key where slot starts, shaped like TiDB's record keys as
// PD shows them (uppercase hex of the encoded key).
func regionKey(slot int) string {
	return fmt.Sprintf(keyPrefix+"%06XFF00000000FB", slot)
}

// keyPrefix is what regionKey puts before a slot's hex digits.
const keyPrefix = "7480000000000000FF015F728000000000FF"

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// result is what a child reports.
type result struct {
	decoder string
	regions int
	idSum   uint64
	elapsed time.Duration
	cpu     time.Duration // the child's user and system time, start-up included
	hwmKB   int64         // peak RSS in KiB
}

func (r result) mbps(size int64) float64 { return float64(size) / 1e6 / r.elapsed.Seconds() }

func (r result) peakRSSMB() float64 { return float64(r.hwmKB) * 1024 / 1e6 }

// measure runs a child reading the regions from base with decoder and
// checks that it saw every region.
func measure(decoder, base string, page, n int, idSum uint64) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(exe, base, strconv.Itoa(page))
	cmd.Env = append(os.Environ(), childEnv+"="+decoder)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("%s child: %w", decoder, err)
	}
	r := result{decoder: decoder}
	line := strings.TrimSpace(string(out))
	var ns int64
	if _, err := fmt.Sscanf(line, "regions=%d idsum=%d elapsed_ns=%d vmhwm_kb=%d", &r.regions, &r.idSum, &ns, &r.hwmKB); err != nil {
		return result{}, fmt.Errorf("%s child said %q: %w", decoder, line, err)
	}
	r.elapsed = time.Duration(ns)
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if r.regions != n || r.idSum != idSum {
		return result{}, fmt.Errorf("%s child read %d regions with id sum %d, want %d with id sum %d", decoder, r.regions, r.idSum, n, idSum)
	}
	return r, nil
}

// child reads the regions from the server at args[0], in pages of args[1]
// regions where it pages, and prints what it saw, how long it took and its
// peak RSS.
func child(decoder string, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("child: want an address and a page size, got %q", args)
	}
	page, err := strconv.Atoi(args[1])
	if err != nil {
		return fmt.Errorf("child: page size: %w", err)
	}
	if path := os.Getenv(profileEnv); path != "" {
		f, err := os.Create(path + "." + decoder)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	var (
		n   int
		sum uint64
	)
	err = fmt.Errorf("unknown decoder %q", decoder)
	for _, d := range decoders {
		if d.name == decoder {
			n, sum, err = d.decode(args[0], page)
		}
	}
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	hwm, err := peakRSSKB()
	if err != nil {
		return err
	}
	fmt.Printf("regions=%d idsum=%d elapsed_ns=%d vmhwm_kb=%d\n", n, sum, elapsed.Nanoseconds(), hwm)
	return nil
}

// decodeBaseline reads the answer as PD's Go HTTP client does: the whole
// body, then encoding/json into a slice.
func decodeBaseline(body io.Reader) (int, uint64, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return 0, 0, err
	}
	var a answer
	if err := json.Unmarshal(data, &a); err != nil {
		return 0, 0, err
	}
	sum := uint64(0)
	for i := range a.Regions {
		sum += a.Regions[i].ID
	}
	if a.Count != len(a.Regions) {
		return 0, 0, fmt.Errorf("answer's count is %d, but it holds %d regions", a.Count, len(a.Regions))
	}
	return len(a.Regions), sum, nil
}

// peakRSSKB reads the process's peak resident set size from
// /proc/self/status. Unlike getrusage's ru_maxrss it covers only this
// program, not the parent whose memory the child shared before exec.
func peakRSSKB() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, _ := strings.CutSuffix(strings.TrimSpace(string(rest)), " kB")
			return strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
