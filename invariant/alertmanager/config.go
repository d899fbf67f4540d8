package alertmanager

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kvops/operator/internal/errs"
)

// The defaults of [Config]'s zero fields: Prometheus' own.
const (
	// DefaultResendDelay is Prometheus' --rules.alert.resend-delay.
	DefaultResendDelay = time.Minute
	// DefaultEvaluationInterval is Prometheus' global evaluation_interval.
	DefaultEvaluationInterval = time.Minute
	// DefaultTimeout is the timeout of Prometheus' alertmanager_config.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBatchSize is Prometheus' --alertmanager.notification-batch-size.
	DefaultMaxBatchSize = 256
	// DefaultQueueCapacity is Prometheus'
	// --alertmanager.notification-queue-capacity.
	DefaultQueueCapacity = 10000
)

// Config configures a [Sender]. A zero field takes the default documented
// on it; only URLs must be set.
type Config struct {
	// URLs are the Alertmanagers' base URLs, such as
	// http://127.0.0.1:9093, with the path prefix an Alertmanager serves
	// under when it has one (--web.route-prefix). Every Alertmanager gets
	// every alert, through POST <URL>/api/v2/alerts, from a queue of its
	// own, as Prometheus sends to each Alertmanager of its configuration.
	// At least one; no credentials in them (put those in RoundTripper),
	// and no two alike.
	URLs []string
	// ExternalLabels are added to every alert that does not carry the
	// label already, as Prometheus adds its global external_labels.
	ExternalLabels map[string]string
	// EvaluationInterval is how often the caller evaluates and calls
	// [Sender.Update]; default [DefaultEvaluationInterval]. With
	// ResendDelay it sets how long an alert stays valid without news:
	// EndsAt = now + 4 × max(EvaluationInterval, ResendDelay), so that
	// two lost evaluations or sends do not resolve it.
	EvaluationInterval time.Duration
	// ResendDelay is how long a firing (or resolved) alert waits after
	// it was last queued before it is queued again; default
	// [DefaultResendDelay].
	ResendDelay time.Duration
	// Timeout bounds each POST to an Alertmanager; default
	// [DefaultTimeout].
	Timeout time.Duration
	// MaxBatchSize is the most alerts one POST carries; default
	// [DefaultMaxBatchSize].
	MaxBatchSize int
	// QueueCapacity is the most alerts waiting for one Alertmanager;
	// default [DefaultQueueCapacity]. Past it the oldest are dropped and
	// counted ([Stats].Dropped), as Prometheus' notifier does.
	QueueCapacity int
	// RoundTripper carries the requests; nil means a clone of
	// http.DefaultTransport (with TLS, if set). Add credentials here.
	RoundTripper http.RoundTripper
	// TLS configures HTTPS for the default transport. It cannot be
	// combined with RoundTripper.
	TLS *tls.Config
	// Logger receives failed and dropped sends at Warn, rejected ones at
	// Error, successful ones at Debug; nil logs nothing.
	Logger *slog.Logger
}

// normalized returns cfg with its defaults filled in, or an error matching
// [ErrInvalid].
func (cfg Config) normalized() (Config, error) {
	invalid := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("alertmanager: "+format+": %w", append(args, errs.ErrInvalid)...)
	}
	if len(cfg.URLs) == 0 {
		return invalid("no Alertmanager URL")
	}
	for name, d := range map[string]time.Duration{
		"evaluation interval": cfg.EvaluationInterval, "resend delay": cfg.ResendDelay, "timeout": cfg.Timeout,
	} {
		if d < 0 {
			return invalid("%s %v is negative", name, d)
		}
	}
	if cfg.MaxBatchSize < 0 {
		return invalid("max batch size %d is negative", cfg.MaxBatchSize)
	}
	if cfg.QueueCapacity < 0 {
		return invalid("queue capacity %d is negative", cfg.QueueCapacity)
	}
	if cfg.TLS != nil && cfg.RoundTripper != nil {
		return invalid("TLS and RoundTripper cannot be combined: configure TLS in the RoundTripper")
	}
	seen := make(map[string]bool, len(cfg.URLs))
	urls := make([]string, len(cfg.URLs))
	for i, raw := range cfg.URLs {
		u, err := checkURL(raw)
		if err != nil {
			return invalid("URLs[%d] %q: %v", i, raw, err)
		}
		if seen[u] {
			return invalid("URLs[%d] %q is repeated", i, raw)
		}
		seen[u] = true
		urls[i] = u
	}
	cfg.URLs = urls
	for name := range cfg.ExternalLabels {
		if !validName(name) {
			return invalid("external label name %q is not a valid label name", name)
		}
	}
	cfg.EvaluationInterval = cmpOr(cfg.EvaluationInterval, DefaultEvaluationInterval)
	cfg.ResendDelay = cmpOr(cfg.ResendDelay, DefaultResendDelay)
	cfg.Timeout = cmpOr(cfg.Timeout, DefaultTimeout)
	cfg.MaxBatchSize = cmpOr(cfg.MaxBatchSize, DefaultMaxBatchSize)
	cfg.QueueCapacity = cmpOr(cfg.QueueCapacity, DefaultQueueCapacity)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// checkURL returns the base URL without a trailing slash.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.Host == "":
		return "", fmt.Errorf("no host")
	case u.User != nil:
		return "", fmt.Errorf("credentials in the URL: put them in Config.RoundTripper")
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("a query or fragment has no place in a base URL")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func (cfg Config) client() *http.Client {
	rt := cfg.RoundTripper
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.TLS != nil {
			tr.TLSClientConfig = cfg.TLS.Clone()
		}
		rt = tr
	}
	// No client timeout: each POST is bounded by its context
	// (Config.Timeout), which the caller's context can shorten.
	return &http.Client{Transport: rt}
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
