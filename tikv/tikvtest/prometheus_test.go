package tikvtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/tikvtest"
)

// upTargets asks Prometheus which instances of job tikv its last scrape
// reached (up == 1), sorted. It runs in require.Eventually's goroutine, so
// it returns errors instead of failing the test.
func upTargets(hc *http.Client, p *tikvtest.Prometheus) ([]string, error) {
	resp, err := hc.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(`up{job="tikv"} == 1`))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query: status %d", resp.StatusCode)
	}
	var body struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range body.Data.Result {
		out = append(out, r.Metric["instance"])
	}
	slices.Sort(out)
	return out, nil
}

// scrapes reports whether Prometheus' last scrapes reached exactly want.
func scrapes(hc *http.Client, p *tikvtest.Prometheus, want []string) func() bool {
	return func() bool {
		got, err := upTargets(hc, p)
		return err == nil && slices.Equal(got, want)
	}
}

// TestPrometheusScrapesTheStores: the Prometheus StartPrometheus runs
// scrapes every store under job "tikv" with PD's status_address as the
// instance, and a stopped store goes down for it. Polling is bounded and
// against the real server.
func TestPrometheusScrapesTheStores(t *testing.T) {
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 3, Regions: 6})
	p := tikvtest.NewPrometheus(t, c)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	all := c.ScrapeTargets()
	slices.Sort(all)
	require.Eventually(t, scrapes(hc, p, all),
		30*time.Second, 200*time.Millisecond, "Prometheus never scraped all of %v", all)

	require.NoError(t, c.StopStore(2))
	addr2, err := c.StatusAddress(2)
	require.NoError(t, err)
	rest := slices.DeleteFunc(slices.Clone(all), func(a string) bool { return a == addr2 })
	require.Eventually(t, scrapes(hc, p, rest),
		30*time.Second, 200*time.Millisecond, "store 2 (%s) never went down for Prometheus", addr2)
}

func TestStartPrometheusBeforeStart(t *testing.T) {
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 1, Regions: 1})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.StartPrometheus(t.Context(), time.Second)
	require.ErrorIs(t, err, subject.ErrPrecondition)
}

// TestPrometheusScrapesPD: StartPrometheus also scrapes each PD member
// under job "pd", the job PD's alert rules select: three members, one
// leader.
func TestPrometheusScrapesPD(t *testing.T) {
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 3, Regions: 6})
	p := tikvtest.NewPrometheus(t, c)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	leaders := func() bool {
		resp, err := hc.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(`sum(etcd_server_is_leader{job="pd"}) == 1 and count(up{job="pd"} == 1) == 3`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		return json.NewDecoder(resp.Body).Decode(&body) == nil && len(body.Data.Result) == 1
	}
	require.Eventually(t, leaders, 30*time.Second, 200*time.Millisecond, "Prometheus never scraped the three PD members %v", c.PDScrapeTargets())
}
