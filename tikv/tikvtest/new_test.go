package tikvtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestNewClusterServesAndCleansUp: the configuration shapes the cluster PD
// reports, the servers listen on loopback while the test runs, and the
// test's Cleanup closes them.
func TestNewClusterServesAndCleansUp(t *testing.T) {
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var pdAddr, metricsAddr string
	t.Run("cluster", func(t *testing.T) {
		c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 3, Regions: 12, Seed: 7, Clock: fixedClock{start}, StoreCapacity: 1 << 30})
		require.Equal(t, start, c.Now())
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		var stores struct {
			Stores []struct {
				Store struct {
					ID        uint64 `json:"id"`
					StateName string `json:"state_name"`
				} `json:"store"`
				Status struct {
					Capacity string `json:"capacity"`
				} `json:"status"`
			} `json:"stores"`
		}
		getJSON(t, hc, c.PDURL()+"/pd/api/v1/stores", &stores)
		var got []string
		for _, s := range stores.Stores {
			got = append(got, fmt.Sprintf("%d %s %s", s.Store.ID, s.Store.StateName, s.Status.Capacity))
		}
		want := []string{"1 Up 1GiB", "2 Up 1GiB", "3 Up 1GiB"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stores (-want +got):\n%s", diff)
		}
		var count struct {
			Count int `json:"count"`
		}
		getJSON(t, hc, c.PDURL()+"/pd/api/v1/regions/count", &count)
		require.Equal(t, 12, count.Count)
		var err error
		pdAddr = strings.TrimPrefix(c.PDURL(), "http://")
		metricsAddr, err = c.StatusAddress(1)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(pdAddr, "127.0.0.1:"), "PD listens on %s, want loopback", pdAddr)
	})
	for _, addr := range []string{pdAddr, metricsAddr} {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after the test's Cleanup", addr)
		}
	}
}

func getJSON(t *testing.T, hc *http.Client, url string, v any) {
	t.Helper()
	resp, err := hc.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// fatalTB records Fatalf instead of ending the goroutine, and runs no
// Cleanup, to see what NewCluster does when the cluster cannot start.
type fatalTB struct {
	testing.TB
	fatal    string
	cleanups int
}

func (f *fatalTB) Helper()                           {}
func (f *fatalTB) Context() context.Context          { return context.Background() }
func (f *fatalTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
func (f *fatalTB) Cleanup(func())                    { f.cleanups++ }

func TestNewClusterFailsTheTestOnBadConfig(t *testing.T) {
	f := &fatalTB{TB: t}
	c := tikvtest.NewCluster(f, tikvtest.Config{Stores: -1})
	require.Nil(t, c)
	require.NotEmpty(t, f.fatal, "NewCluster did not fail the test")
	require.Zero(t, f.cleanups, "nothing started, nothing to clean up")
}

func TestNewUnstartedClusterErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  tikvtest.Config
		want error
	}{
		{"negative stores", tikvtest.Config{Stores: -1}, subject.ErrInvalid},
		{"too many stores", tikvtest.Config{Stores: 1001}, subject.ErrInvalid},
		{"too many regions", tikvtest.Config{Regions: 1_000_001}, subject.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tikvtest.NewUnstartedCluster(tc.cfg)
			require.Nil(t, c)
			require.ErrorIs(t, err, tikvtest.ErrBadArgument)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// The inspection and fault methods' sentinels match subject's, so one
// errors.Is vocabulary covers the test cluster too.
func TestSentinelsMatchSubject(t *testing.T) {
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 3, Regions: 3})
	err := c.StopStore(9)
	require.ErrorIs(t, err, tikvtest.ErrNoStore)
	require.ErrorIs(t, err, subject.ErrNotFound)
	_, err = c.RegionLeader(1_000_000)
	require.ErrorIs(t, err, tikvtest.ErrNoRegion)
	require.ErrorIs(t, err, subject.ErrNotFound)
	err = c.SetDiskUsage(1, 2)
	require.ErrorIs(t, err, subject.ErrInvalid)
	err = c.Start(t.Context())
	require.ErrorIs(t, err, tikvtest.ErrStarted)
	require.True(t, errors.Is(err, subject.ErrPrecondition))
}

// TestPDListener: with Config.PDListener, PD's API is served on the
// caller's listener, its members advertise it (or, on a wildcard address,
// the address each request came in on), and Close closes it, started or
// not.
func TestPDListener(t *testing.T) {
	members := func(t *testing.T, url string) []string {
		t.Helper()
		resp, err := http.Get(url + "/pd/api/v1/members")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var body struct {
			Members []struct {
				ClientURLs []string `json:"client_urls"`
			} `json:"members"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		var out []string
		for _, m := range body.Members {
			out = append(out, m.ClientURLs...)
		}
		return out
	}
	for _, tc := range []struct {
		name, listen, dial string // dial "" dials the listener's own address
	}{
		{name: "loopback", listen: "127.0.0.1:0"},
		{name: "wildcard", listen: "0.0.0.0:0", dial: "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", tc.listen)
			require.NoError(t, err)
			c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 3, Regions: 6, PDListener: ln})
			url := "http://" + ln.Addr().String()
			require.Equal(t, url, c.PDURL())
			if tc.dial != "" {
				url = "http://" + net.JoinHostPort(tc.dial, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
			}
			want := []string{url, url, url}
			if diff := cmp.Diff(want, members(t, url)); diff != "" {
				t.Errorf("members' client URLs (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("wrapped", func(t *testing.T) {
		var seen []string
		c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 3, Regions: 6, WrapPD: func(pd http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = append(seen, r.Method+" "+r.URL.Path) // one request at a time here
				pd.ServeHTTP(w, r)
			})
		}})
		resp, err := http.Get(c.PDURL() + "/pd/api/v1/version")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, []string{"GET /pd/api/v1/version"}, seen)
	})
	t.Run("closed unstarted", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{PDListener: ln})
		require.NoError(t, err)
		require.NoError(t, c.Close())
		_, err = ln.Accept()
		require.ErrorIs(t, err, net.ErrClosed, "Close closed the listener it was given")
	})
}
