package promtest_test

import (
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/needs"
	"github.com/kvops/operator/internal/promtest"
)

func query(t *testing.T, url, q string, at time.Time) model.Vector {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: url})
	require.NoError(t, err)
	v, _, _, err := v1.NewAPI(c).Query(t.Context(), q, at)
	require.NoError(t, err)
	vec, ok := v.(model.Vector)
	require.True(t, ok, "query %s returned %v", q, v.Type())
	return vec
}

// demoHour is OpenMetrics text of a gauge "demo" sampled once a minute
// over the hour before now, its value the minute's number (0 to 60).
func demoHour(now time.Time) string {
	var b strings.Builder
	b.WriteString("# TYPE demo gauge\n")
	for i := 0; i <= 60; i++ { // one sample a minute for the last hour
		fmt.Fprintf(&b, "demo{instance=\"a\"} %d %d\n", i, now.Add(time.Duration(i-60)*time.Minute).Unix())
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// checkDemoHour queries demoHour's series at three times.
func checkDemoHour(t *testing.T, url string, now time.Time) {
	t.Helper()
	for _, tt := range []struct {
		at   time.Time
		want float64
	}{{now, 60}, {now.Add(-30 * time.Minute), 30}, {now.Add(-59 * time.Minute), 1}} {
		vec := query(t, url, "demo", tt.at)
		if len(vec) != 1 || float64(vec[0].Value) != tt.want {
			t.Errorf("demo at now%v = %v, want %v", tt.at.Sub(now), vec, tt.want)
		}
	}
}

func TestBackfillServesRecentData(t *testing.T) {
	t.Parallel()
	promtest.Require(t)
	now := time.Now().Truncate(time.Second)
	dir := t.TempDir()
	promtest.Backfill(t, dir, demoHour(now))
	p := promtest.Start(t, promtest.WithDataDir(dir))
	checkDemoHour(t, p.URL, now)
}

// TestStartShared: a shared Prometheus serves its backfilled data until
// Stop, which stops it and removes its data.
func TestStartShared(t *testing.T) {
	t.Parallel()
	promtest.Require(t)
	now := time.Now().Truncate(time.Second)
	p, err := promtest.StartShared(demoHour(now))
	require.NoError(t, err)
	checkDemoHour(t, p.URL, now)
	p.Stop()
	_, err = os.Stat(p.DataDir)
	require.ErrorIs(t, err, fs.ErrNotExist, "Stop left the data behind")
	_, err = http.Get(p.URL + "/-/ready")
	var op *net.OpError
	require.ErrorAs(t, err, &op, "Prometheus still answers after Stop")

	_, err = promtest.StartShared("demo 1\n") // no "# EOF"
	require.Error(t, err)
}

func TestScrape(t *testing.T) {
	t.Parallel()
	promtest.Require(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "# TYPE demo_up gauge\ndemo_up 1")
	}))
	t.Cleanup(srv.Close)
	target := strings.TrimPrefix(srv.URL, "http://")
	p := promtest.Start(t, promtest.WithScrape("demo", time.Second, target))
	p.WaitFor(t, "demo_up", 60*time.Second)
	vec := query(t, p.URL, `demo_up{job="demo"}`, time.Now())
	if len(vec) != 1 || string(vec[0].Metric["instance"]) != target {
		t.Errorf("demo_up = %v, want one series from instance %s", vec, target)
	}
}

func TestRequireWithoutPrometheus(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing installed
	for _, tt := range []struct {
		ci                  string
		wantSkip, wantFatal bool
	}{{"", true, false}, {"false", true, false}, {"true", false, true}} {
		t.Setenv("CI", tt.ci)
		f := &needs.RecordingTB{}
		promtest.Require(f)
		if f.DidSkip != tt.wantSkip || f.DidFail != tt.wantFatal {
			t.Errorf("CI=%q: skipped %v failed %v, want %v %v", tt.ci, f.DidSkip, f.DidFail, tt.wantSkip, tt.wantFatal)
		}
		if !strings.Contains(f.Msg, "prometheus not found") {
			t.Errorf("CI=%q: message %q does not say what is missing", tt.ci, f.Msg)
		}
	}
}

// TestRefusedAddr: connections to the address are refused, and no one
// else can listen there, on it or on the wildcard address with its port,
// while the test runs (a port found free and closed again could be taken
// by another process, which then answered the test's requests).
func TestRefusedAddr(t *testing.T) {
	addr := promtest.RefusedAddr(t)
	_, err := net.Dial("tcp", addr)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	for _, a := range []string{addr, ":" + port, "0.0.0.0:" + port} {
		l, err := net.Listen("tcp", a)
		if err == nil {
			l.Close()
			t.Fatalf("another socket could listen on %s while the address was held", a)
		}
		require.ErrorIs(t, err, syscall.EADDRINUSE, a)
	}
	// An HTTP client sees an unreachable server, typed.
	_, err = http.Get("http://" + addr + "/")
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}
