package pdclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// downFor is how long an endpoint that failed is tried last.
const downFor = 30 * time.Second

// normalize turns an endpoint into scheme://host[:port], or says what is
// wrong with it (New names the field). A configured
// plaintext endpoint on a TLS client is an error; a discovered one (a
// member's client URL) is upgraded to https, as PD's own client does.
func (c *Client) normalize(e string, discovered bool) (string, error) {
	e = strings.TrimSpace(e)
	if !strings.Contains(e, "://") {
		if c.tls {
			e = "https://" + e
		} else {
			e = "http://" + e
		}
	}
	u, err := url.Parse(e)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", err
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || u.Host == "" {
		return "", errors.New("want http(s)://host:port")
	}
	if c.tls && scheme == "http" {
		if !discovered {
			return "", errors.New("plaintext, but the client uses TLS")
		}
		scheme = "https"
	}
	return scheme + "://" + u.Host, nil
}

// Endpoints returns the endpoints in the order the next request will try
// them: the leader first when known, endpoints that recently failed last.
func (c *Client) Endpoints() []string {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	up := make([]string, 0, len(c.endpoints))
	var down []string
	for _, e := range c.endpoints {
		if t, ok := c.down[e]; ok && now.Sub(t) < downFor {
			down = append(down, e)
		} else {
			up = append(up, e)
		}
	}
	return append(up, down...)
}

// markDown records that ep did not answer; markUp that it did.
func (c *Client) markDown(ep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down[ep] = c.now()
}

func (c *Client) markUp(ep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.down, ep)
}

// DefaultMembersRefreshInterval is how often a client asks PD for its
// members by default: every minute, as PD's own HTTP client does
// (defaultMembersInfoUpdateInterval in tikv/pd client/http, the
// MemberUpdateInterval of its service discovery).
const DefaultMembersRefreshInterval = time.Minute

// discover asks for the member list, leader first, before a request when
// it is due: before the first request, then once every membersEvery. The
// request that finds it due asks, trying the endpoints in order until one
// answers; requests meanwhile go on with the order they have. Failure is
// ignored: the request itself fails over, and the next ask is due only
// after another interval.
//
// The refresh rides on requests instead of a goroutine of the client's,
// so that a Client needs no Close and an idle one sends nothing; PD's own
// client refreshes on a ticker and must be closed.
func (c *Client) discover(ctx context.Context) {
	if c.membersEvery < 0 || !c.membersDue() || !c.refreshing.CompareAndSwap(false, true) {
		return
	}
	defer c.refreshing.Store(false)
	if !c.membersDue() {
		return // another request asked between the two looks
	}
	c.membersAt.Store(c.now().UnixNano())
	for _, ep := range c.Endpoints() {
		if c.refreshMembers(ctx, ep) == nil {
			return
		}
	}
}

// membersDue reports whether the members were never asked for, or not for
// membersEvery.
func (c *Client) membersDue() bool {
	at := c.membersAt.Load()
	return at == 0 || c.now().Sub(time.Unix(0, at)) >= c.membersEvery
}

// prefer moves ep to the front of the endpoint list.
func (c *Client) prefer(ep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.endpoints, ep)
	if i > 0 {
		c.endpoints = slices.Insert(slices.Delete(c.endpoints, i, i+1), 0, ep)
	}
}

// setMembers sets the endpoints to the current members: the leader's
// client URLs first, then the other members', then any configured endpoint
// PD did not list (it may be a load balancer or a name the members do not
// advertise). A member discovered before and no longer listed (removed
// from the cluster) is dropped, so that it is not dialled forever.
func (c *Client) setMembers(m *Members) {
	var list []string
	add := func(urls []string) {
		for _, raw := range urls {
			u, err := c.normalize(raw, true)
			if err == nil && !slices.Contains(list, u) {
				list = append(list, u)
			}
		}
	}
	add(m.Leader.ClientURLs)
	for _, mem := range m.Members {
		add(mem.ClientURLs)
	}
	if len(list) == 0 {
		return
	}
	for _, e := range c.configured {
		if !slices.Contains(list, e) {
			list = append(list, e)
		}
	}
	c.membersAt.Store(c.now().UnixNano())
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Equal(list, c.endpoints) {
		c.log.Debug("pdclient: endpoints reordered", "leader", m.Leader.Name, "endpoints", list)
	}
	c.endpoints = list
	for e := range c.down {
		if !slices.Contains(list, e) {
			delete(c.down, e)
		}
	}
}

// refreshMembers asks ep for the member list and reorders the endpoints,
// leader first. Callers log and otherwise ignore its failure.
func (c *Client) refreshMembers(ctx context.Context, ep string) error {
	var m Members
	if err := c.once(ctx, ep, request{method: http.MethodGet, path: apiPrefix + "/members"}, decodeInto(&m)); err != nil {
		c.log.Debug("pdclient: refreshing members failed", "endpoint", ep, "err", err)
		var te *TransportError
		if errors.As(err, &te) {
			c.markDown(ep)
		}
		return err
	}
	c.setMembers(&m)
	return nil
}
