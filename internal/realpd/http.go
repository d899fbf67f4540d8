package realpd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// httpClient is the harness's own way to PD: plain HTTP, a bound on every
// request, and idle connections closed at Stop (so that goleak sees no
// connection goroutine left).
type httpClient struct {
	tr *http.Transport
	hc *http.Client
}

// requestTimeout bounds one request of the harness.
const requestTimeout = 5 * time.Second

func newHTTPClient() *httpClient {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	return &httpClient{tr: tr, hc: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

func (h *httpClient) close() { h.tr.CloseIdleConnections() }

// StatusError is an answer other than 200 OK.
type StatusError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("realpd: %s %s: %d %s", e.Method, e.URL, e.Status, e.Body)
}

// do sends one request and returns the answer's status, header and body.
func (h *httpClient) do(ctx context.Context, method, url string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("realpd: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("realpd: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("realpd: %s %s: %w", method, url, err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// call sends a request with in (if not nil) as its JSON body and decodes a
// 200 answer into out (if not nil).
func (h *httpClient) call(ctx context.Context, method, url string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("realpd: %w", err)
		}
	}
	status, _, b, err := h.do(ctx, method, url, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &StatusError{Method: method, URL: url, Status: status, Body: string(bytes.TrimSpace(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("realpd: %s %s: %w", method, url, err)
	}
	return nil
}

func (h *httpClient) get(ctx context.Context, base, path string, out any) error {
	return h.call(ctx, http.MethodGet, base+path, nil, out)
}

// Do sends one request to the PD leader (path such as
// "/pd/api/v1/stores"; body, if not nil, as JSON) and returns PD's answer
// as it came: status, header and body. For requests the helpers do not
// cover, and for recording PD's answers.
func (c *Cluster) Do(ctx context.Context, method, path string, body []byte) (int, http.Header, []byte, error) {
	u, err := c.leaderURL(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	return c.http.do(ctx, method, u+path, body)
}

// DoMember is Do against one member, whether it leads or not.
func (c *Cluster) DoMember(ctx context.Context, m *Member, method, path string, body []byte) (int, http.Header, []byte, error) {
	return c.http.do(ctx, method, m.URL()+path, body)
}

// SetConfig sets PD configuration items through the leader (POST
// /pd/api/v1/config), such as {"max-store-down-time": "30s"}.
func (c *Cluster) SetConfig(ctx context.Context, items map[string]any) error {
	u, err := c.leaderURL(ctx)
	if err != nil {
		return err
	}
	return c.http.call(ctx, http.MethodPost, u+"/pd/api/v1/config", items, nil)
}

// Store is what the harness reads of a store in GET /pd/api/v1/stores.
type Store struct {
	ID          uint64
	State       string // state_name: Up, Disconnected, Down, Offline, Tombstone
	LeaderCount int
	RegionCount int
}

// Stores returns the stores the PD leader lists (GET /pd/api/v1/stores),
// in PD's order.
func (c *Cluster) Stores(ctx context.Context) ([]Store, error) {
	u, err := c.leaderURL(ctx)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Stores []struct {
			Store struct {
				ID        uint64 `json:"id"`
				StateName string `json:"state_name"`
			} `json:"store"`
			Status struct {
				LeaderCount int `json:"leader_count"`
				RegionCount int `json:"region_count"`
			} `json:"status"`
		} `json:"stores"`
	}
	if err := c.http.get(ctx, u, "/pd/api/v1/stores", &resp); err != nil {
		return nil, err
	}
	out := make([]Store, 0, len(resp.Stores))
	for _, s := range resp.Stores {
		out = append(out, Store{ID: s.Store.ID, State: s.Store.StateName, LeaderCount: s.Status.LeaderCount, RegionCount: s.Status.RegionCount})
	}
	return out, nil
}
