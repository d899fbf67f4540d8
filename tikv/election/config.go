package election

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/subject"
)

// Defaults of Config's zero fields.
const (
	// DefaultEndpoint is tiup playground's PD, whose client URL serves
	// etcd's v3 API.
	DefaultEndpoint = "http://127.0.0.1:2379"
	// DefaultPrefix is where every operator built on this library elects
	// its leader, so that two such operators on one cluster exclude each
	// other as two replicas of one do. It is outside PD's own keys
	// (/pd/{cluster_id}/, /ms/ for PD's microservices), TiDB's (/tidb/,
	// /topology/) and TiCDC's (/tidb/cdc/).
	DefaultPrefix = "/kvops-operator/election/leader"
	// DefaultTTL is the session's time to live: a leader that dies is
	// replaced within it, and a leader that cannot reach etcd stops within
	// it. TiDB elects its DDL owner with 60 s, where a spurious change of
	// owner costs more than a slow one. An operator's killed leader may
	// leave a store with its leaders evicted until its successor takes
	// over, so a shorter time is worth more here; 15 s is still several
	// times a PD leader change (PD's etcd elects a new leader within its
	// 3 s election timeout, and the session then needs one keep-alive
	// answer within the time left, see MinTTL), so a PD failover does not
	// depose the operator.
	DefaultTTL = 15 * time.Second
	// MinTTL is the shortest TTL accepted. Etcd reports a lease's time
	// left in whole seconds, truncated, and the leader renews every TTL/3:
	// below 5 s the time etcd can promise after a renewal is too short to
	// check it again (every TTL/6) before it runs out. PD's etcd may also
	// raise a shorter TTL to its own minimum.
	MinTTL = 5 * time.Second
	// DefaultTimeout bounds each request to etcd.
	DefaultTimeout = 5 * time.Second
)

// Config configures an [Election]. Every zero field has the default its
// comment names.
type Config struct {
	// Endpoints are PD client URLs, as pdclient.Config.Endpoints takes
	// them ("http://pd-0:2379"): PD's client URL serves etcd's v3 API. A
	// URL without a scheme gets http://, or https:// when TLS is set.
	// List every PD member: the client fails over between them, but does
	// not discover members that are not listed. Default: DefaultEndpoint.
	Endpoints []string
	// TLS, when set, is used for every connection, and every endpoint
	// must be https, as for pdclient.Config.TLS: pass the same value.
	TLS *tls.Config
	// Prefix is the election's key prefix in etcd (default
	// DefaultPrefix). Candidates with the same prefix elect one leader.
	Prefix string
	// TTL is the session's time to live (default DefaultTTL, at least
	// MinTTL, rounded up to whole seconds). Etcd may grant a longer one;
	// [Election.TTL] returns what it granted.
	TTL time.Duration
	// Identity names this candidate in the election: the value of its key
	// and what [Election.Leader] returns (default "hostname-pid").
	Identity string
	// Timeout bounds each request to etcd (default DefaultTimeout).
	Timeout time.Duration
	// Logger receives the election's events: won, lost and why,
	// resigned, at Info; failed requests at Warn (default: discard).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if len(c.Endpoints) == 0 {
		c.Endpoints = []string{DefaultEndpoint}
	}
	c.Prefix = strings.TrimRight(cmp.Or(c.Prefix, DefaultPrefix), "/")
	c.TTL = cmp.Or(c.TTL, DefaultTTL)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	if c.Identity == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "unknown-host"
		}
		c.Identity = host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a configuration with its defaults, and returns the
// endpoints as etcd's client takes them.
func (c Config) validate() ([]string, error) {
	var errs []error
	if c.TTL < MinTTL {
		errs = append(errs, fmt.Errorf("TTL %v is shorter than %v", c.TTL, MinTTL))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v is negative", c.Timeout))
	}
	if c.Prefix == "" || !strings.HasPrefix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("prefix %q must start with / and name a key", c.Prefix))
	}
	for _, reserved := range []string{"/pd/", "/tidb/", "/ms/", "/topology/"} {
		if strings.HasPrefix(c.Prefix+"/", reserved) {
			errs = append(errs, fmt.Errorf("prefix %q is inside %s, which PD or TiDB use", c.Prefix, reserved))
		}
	}
	tlsOn := c.TLS != nil
	for _, e := range c.Endpoints {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(e)), "https://") {
			tlsOn = true
		}
	}
	var eps []string
	for _, e := range c.Endpoints {
		u, err := endpoint(e, tlsOn)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		eps = append(eps, u)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("election: %w: %w", subject.ErrInvalid, err)
	}
	return eps, nil
}

// endpoint turns a PD URL into scheme://host:port, with pdclient's rules:
// no scheme means http, or https with TLS; a plaintext URL with TLS is an
// error, since the client would never send plaintext.
func endpoint(e string, tlsOn bool) (string, error) {
	e = strings.TrimSpace(e)
	if !strings.Contains(e, "://") {
		if tlsOn {
			e = "https://" + e
		} else {
			e = "http://" + e
		}
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %v", e, err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https" || u.Host == "":
		return "", fmt.Errorf("endpoint %q: want http(s)://host:port", e)
	case tlsOn && scheme == "http":
		return "", fmt.Errorf("endpoint %q is plaintext but the client uses TLS", e)
	}
	return scheme + "://" + u.Host, nil
}

// ttlSeconds is the TTL etcd is asked for, in whole seconds.
func (c Config) ttlSeconds() int64 {
	return int64((c.TTL + time.Second - 1) / time.Second)
}
