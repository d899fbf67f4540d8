package pdclient

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// membersCluster is three replay servers standing for pd1, pd2 and pd3,
// each answering /stores and /members (with the leader the test names).
type membersCluster struct {
	t       *testing.T
	servers map[string]*replayServer
	urls    map[string]string
}

func newMembersCluster(t *testing.T, leader string) *membersCluster {
	mc := &membersCluster{t: t, servers: map[string]*replayServer{}, urls: map[string]string{}}
	for _, name := range []string{"pd1", "pd2", "pd3"} {
		rs := newReplayServer(t, loadExchange(t, "pd-cluster", "stores-from-leader"))
		mc.servers[name], mc.urls[name] = rs, rs.srv.URL
	}
	mc.lead(leader)
	return mc
}

// lead makes every member name leader in its /members answer; the others
// go on answering every request, as PD followers do.
func (mc *membersCluster) lead(leader string) {
	for _, rs := range mc.servers {
		rs.set(membersFor(mc.t, "members-3", mc.urls, leader))
	}
}

func (mc *membersCluster) count(name, path string) int {
	return mc.servers[name].count(http.MethodGet, path)
}

// newClockedClient is a client of cfg whose clock the test moves.
func newClockedClient(t *testing.T, cfg Config) (*Client, *recordingSleep) {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	rec := &recordingSleep{now: time.Now()}
	c.now, c.sleep, c.jitter = rec.clock, rec.sleep, noJitter
	return c, rec
}

// TestOneEndpointLearnsMembers: a client given one member's URL asks for
// the members before its first request, and sends that request and the
// next ones to the leader.
func TestOneEndpointLearnsMembers(t *testing.T) {
	mc := newMembersCluster(t, "pd3")
	cfg := DefaultConfig()
	cfg.Endpoints = []string{mc.urls["pd1"]}
	c, _ := newClockedClient(t, cfg)
	for range 3 {
		_, err := c.Stores(t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, 1, mc.count("pd1", "/pd/api/v1/members"), "one /members before the first request")
	require.Zero(t, mc.count("pd1", "/pd/api/v1/stores"))
	require.Equal(t, 3, mc.count("pd3", "/pd/api/v1/stores"), "requests go to the leader")
	require.Equal(t, []string{mc.urls["pd3"], mc.urls["pd1"], mc.urls["pd2"]}, c.Endpoints())
}

// TestMembersRefreshedAtInterval: the leader moves while the old one goes
// on answering (a follower forwards to the leader), so no request fails
// over; the first request after MembersRefreshInterval asks for the
// members again and goes to the new leader, and none before it does.
func TestMembersRefreshedAtInterval(t *testing.T) {
	mc := newMembersCluster(t, "pd1")
	cfg := DefaultConfig()
	cfg.Endpoints = []string{mc.urls["pd1"], mc.urls["pd2"], mc.urls["pd3"]}
	cfg.MembersRefreshInterval = 5 * time.Minute
	c, clock := newClockedClient(t, cfg)
	_, err := c.Stores(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, mc.count("pd1", "/pd/api/v1/members"))

	mc.lead("pd2")
	clock.now = clock.now.Add(5*time.Minute - time.Second)
	_, err = c.Stores(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, mc.count("pd1", "/pd/api/v1/stores"), "before the interval, the old leader")
	require.Equal(t, 1, mc.count("pd1", "/pd/api/v1/members"), "and no refresh")

	clock.now = clock.now.Add(time.Second)
	for range 2 {
		_, err = c.Stores(t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, 2, mc.count("pd1", "/pd/api/v1/members"), "one refresh at the interval")
	require.Equal(t, 2, mc.count("pd2", "/pd/api/v1/stores"), "then the new leader")
	require.Equal(t, 2, mc.count("pd1", "/pd/api/v1/stores"))
	require.Equal(t, mc.urls["pd2"], c.Endpoints()[0])
}

// TestMembersRefreshOneAtATime: of many requests that find the members
// due at once, one asks for them; the others do not wait for it.
func TestMembersRefreshOneAtATime(t *testing.T) {
	mc := newMembersCluster(t, "pd1")
	cfg := DefaultConfig()
	cfg.Endpoints = []string{mc.urls["pd1"]}
	c, clock := newClockedClient(t, cfg)
	_, err := c.Stores(t.Context())
	require.NoError(t, err)
	clock.now = clock.now.Add(DefaultMembersRefreshInterval)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := c.Stores(t.Context())
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, 2, mc.count("pd1", "/pd/api/v1/members"))
	require.Equal(t, 21, mc.count("pd1", "/pd/api/v1/stores"))
}

// TestMembersRefreshNever: with a negative interval a client asks for no
// members on its own: one endpoint (a load balancer, say) gets every
// request, however long the client lives.
func TestMembersRefreshNever(t *testing.T) {
	mc := newMembersCluster(t, "pd3")
	cfg := DefaultConfig()
	cfg.Endpoints = []string{mc.urls["pd1"]}
	cfg.MembersRefreshInterval = -1
	c, clock := newClockedClient(t, cfg)
	for range 3 {
		_, err := c.Stores(t.Context())
		require.NoError(t, err)
		clock.now = clock.now.Add(time.Hour)
	}
	require.Zero(t, mc.count("pd1", "/pd/api/v1/members"))
	require.Equal(t, 3, mc.count("pd1", "/pd/api/v1/stores"))
	require.Equal(t, []string{mc.urls["pd1"]}, c.Endpoints())
}

// TestMembersRefreshDefault: a zero interval takes the documented default.
func TestMembersRefreshDefault(t *testing.T) {
	require.Equal(t, time.Minute, DefaultMembersRefreshInterval)
	require.Equal(t, DefaultMembersRefreshInterval, DefaultConfig().MembersRefreshInterval)
	c, err := New(Config{Endpoints: []string{"http://127.0.0.1:2379"}})
	require.NoError(t, err)
	require.Equal(t, DefaultMembersRefreshInterval, c.membersEvery)
}
