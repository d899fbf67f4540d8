package record_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
)

// TestRedact redacts the fault recording, to which a header with a
// password in PD's URL, a series, log lines and answers carrying
// addresses and credentials are added: no address of the cluster, nor
// any secret, is left anywhere in the bytes, and the same address reads
// as the same placeholder everywhere.
func TestRedact(t *testing.T) {
	s, buf, _ := recordFaults(t)
	h, entries, err := readAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	status1, err := s.cl.StatusAddress(1)
	if err != nil {
		t.Fatal(err)
	}
	pdURL, _ := url.Parse(s.front.URL)
	h.PD = "http://admin:hunter2@" + pdURL.Host + ",https://pd-0.pd-peer.tidb.svc:2379"
	h.Prometheus = "http://prometheus.monitoring.svc:9090"
	var in bytes.Buffer
	w, err := record.NewWriter(&in, h)
	if err != nil {
		t.Fatal(err)
	}
	extra := []record.Entry{
		{Kind: record.KindPD, PD: &record.PD{At: t0, Path: "/pd/api/v1/config", Status: 500, Text: true,
			Body: mustJSON(t, `Get "http://pd-0.pd-peer.tidb.svc:2379/pd/api/v1/config": Authorization: Bearer c2VjcmV0dG9rZW4=`)}},
		{Kind: record.KindPD, PD: &record.PD{At: t0, Path: "/pd/api/v1/stores", Status: 0,
			Error: `Get "https://root:toor@` + pdURL.Host + `/pd/api/v1/stores?token=abcdef": dial tcp [fd00::1]:2379: connect: connection refused`}},
		{Kind: record.KindSeries, Series: &record.Series{From: t0, To: t0, Labels: map[string]string{"__name__": "up", "instance": status1, "job": "tikv"},
			Samples: []record.Sample{{T: t0, V: 1}}}},
		{Kind: record.KindLog, Log: &record.Log{At: t0, Source: "pd-0.pd-peer.tidb.svc",
			Line: `[2026/12/07 10:00:00.000 +00:00] [WARN] [cluster.go:1543] ["store disconnected"] [store-id=2] [store-address=tikv-2.tikv-peer.tidb.svc:20160] [url=http://u:p@10.0.0.7:2379]`}},
		{Kind: record.KindLog, Log: &record.Log{At: t0, Source: "tikv-1", Line: "not a log line: 10.1.2.3 password=swordfish"}},
	}
	for _, e := range append(extra, entries[:len(entries)-1]...) {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(t0.Add(5 * time.Minute)); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	r, err := record.NewReader(bytes.NewReader(in.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := record.Redact(&out, r, record.RedactConfig{Hosts: []string{"tikv-2.tikv-peer.tidb.svc"}}); err != nil {

		t.Fatal(err)
	}
	rh, red, err := readAll(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !rh.Redacted {
		t.Error("header not marked redacted")
	}
	if len(red) != len(extra)+len(entries) {
		t.Errorf("%d entries redacted, want %d", len(red), len(extra)+len(entries))
	}

	// Nothing of the original addresses and secrets is left.
	secrets := []string{"127.0.0.1", "admin", "hunter2", "root:toor", "toor", "c2VjcmV0dG9rZW4", "abcdef", "swordfish", "fd00::1",
		"10.0.0.7", "10.1.2.3", "u:p@", "pd-0.pd-peer", "prometheus.monitoring", "tikv-2.tikv-peer", pdURL.Host}
	for _, id := range []subject.StoreID{1, 2, 3, 4, 5} {
		a, err := s.cl.StatusAddress(id)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, a)
	}
	// Every address field of PD's answers in the input.
	for _, e := range entries {
		if e.PD != nil && e.PD.Status == 200 && (strings.HasPrefix(e.PD.Path, "/pd/api/v1/stores") || strings.HasSuffix(e.PD.Path, "/members") || strings.HasSuffix(e.PD.Path, "/leader")) {
			secrets = append(secrets, addressesIn(t, e.PD.Body)...)
		}
	}
	for _, sec := range secrets {
		if i := bytes.Index(out.Bytes(), []byte(sec)); i >= 0 {
			lo, hi := max(0, i-80), min(out.Len(), i+80)
			t.Errorf("%q survives the redaction: ...%s...", sec, out.Bytes()[lo:hi])
		}
	}

	// The same address is the same placeholder: store 1's status address
	// in the stores answers and as the series' instance.
	var instance string
	statusIn := map[string]bool{}
	for _, e := range red {
		if e.Series != nil {
			instance = e.Series.Labels["instance"]
		}
		if e.PD != nil && e.PD.Path == storesPath && e.PD.Status == 200 {
			var a struct {
				Stores []struct {
					Store struct {
						ID            uint64 `json:"id"`
						StatusAddress string `json:"status_address"`
					} `json:"store"`
				} `json:"stores"`
			}
			if err := json.Unmarshal(e.PD.Body, &a); err != nil {
				t.Fatal(err)
			}
			for _, st := range a.Stores {
				if st.Store.ID == 1 {
					statusIn[st.Store.StatusAddress] = true
				}
			}
		}
	}
	if len(statusIn) != 1 || !statusIn[instance] || !strings.HasPrefix(instance, "host-") {
		t.Errorf("store 1's status address redacted as %v in PD's answers, %q as the series' instance: want one placeholder", statusIn, instance)
	}
	if _, port, _ := net.SplitHostPort(status1); !strings.HasSuffix(instance, ":"+port) {
		t.Errorf("instance %q lost its port %s", instance, port)
	}
}

func mustJSON(t *testing.T, s string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addressesIn returns the values of the address fields of a JSON value.
func addressesIn(t *testing.T, body json.RawMessage) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any, addr bool)
	walk = func(v any, addr bool) {
		switch x := v.(type) {
		case string:
			if addr && x != "" {
				out = append(out, x)
			}
		case []any:
			for _, e := range x {
				walk(e, addr)
			}
		case map[string]any:
			for k, e := range x {
				walk(e, strings.Contains(k, "address") || strings.HasSuffix(k, "_urls"))
			}
		}
	}
	walk(v, false)
	return out
}
