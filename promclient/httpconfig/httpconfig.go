package httpconfig

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/prometheus/common/config"

	"github.com/kvops/operator/subject"
)

// Config describes the transport. Its zero value is a transport that sends
// no credentials, uses no proxy and speaks HTTP/1.1.
type Config struct {
	// HTTPClient configures the transport as Prometheus' own scrape and
	// remote-write clients are configured: credentials (basic_auth,
	// authorization, bearer_token, bearer_token_file, oauth2), TLS from
	// files or PEM (tls_config), proxies and extra headers. Files are read
	// on each request, so rotated credentials are picked up. The zero
	// value sends no credentials, uses no proxy (set ProxyFromEnvironment
	// for HTTP_PROXY) and speaks HTTP/1.1 (set EnableHTTP2). Its redirect
	// settings are ignored: promclient decides which redirects it follows.
	//
	// With OAuth2, requests go one at a time until one has succeeded (so
	// one token is fetched, and prometheus/common's OAuth2 transport, which
	// sets up its token source without a lock on first use, is never
	// entered twice at once); then they run concurrently again. With a
	// client_secret_file or client_secret_ref, which can change, they
	// always go one at a time, since each change sets the source up again.
	//
	// Printing or logging a Config shows its secrets as "<secret>"; print
	// the HTTPClient field on its own and they show in clear.
	HTTPClient config.HTTPClientConfig
	// TLS configures HTTPS with a tls.Config already in memory. It cannot
	// be combined with HTTPClient.TLSConfig.
	TLS *tls.Config
}

// Format prints the configuration as fmt would, with every secret of
// HTTPClient shown as "<secret>", so that printing a Config, or a struct
// holding one, does not reveal credentials.
func (c Config) Format(f fmt.State, verb rune) {
	type plain Config // without methods, so that printing it does not recurse
	p := plain(c)
	p.HTTPClient = redactSecrets(c.HTTPClient)
	fmt.Fprintf(f, fmt.FormatString(f, verb), p)
}

// LogValue keeps credentials out of slog output, as Format does.
func (c Config) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", c)) }

// NewRoundTripper returns the transport cfg describes, for
// promclient.Config.RoundTripper. It fails, with an error matching
// [subject.ErrInvalid], when the configuration is inconsistent (a bearer
// token and basic auth, TLS and HTTPClient.TLSConfig, a proxy both fixed
// and from the environment) or names a file or PEM that cannot be read.
//
// A transport with TLS settings refuses plaintext: a request to an http://
// URL fails, before anything is sent, with an error matching
// [subject.ErrInvalid], where Prometheus' own clients would silently send
// it without TLS.
func NewRoundTripper(cfg Config) (http.RoundTripper, error) {
	hc := cfg.HTTPClient
	tlsFiles := !reflect.ValueOf(hc.TLSConfig).IsZero()
	if cfg.TLS != nil && tlsFiles {
		return nil, fmt.Errorf("httpconfig: %w: set TLS or HTTPClient.TLSConfig, not both", subject.ErrInvalid)
	}
	if err := hc.Validate(); err != nil {
		return nil, fmt.Errorf("httpconfig: HTTPClient: %w: %w", subject.ErrInvalid, err)
	}
	var opts []config.HTTPClientOption
	if cfg.TLS != nil {
		opts = append(opts, config.WithNewTLSConfigFunc(func(context.Context, *config.TLSConfig, ...config.TLSConfigOption) (*tls.Config, error) {
			return cfg.TLS.Clone(), nil
		}))
	}
	rt, err := config.NewRoundTripperFromConfig(hc, "promclient", opts...)
	if err != nil {
		// A file that cannot be read, a PEM that does not parse: the
		// configuration is wrong, whichever file it names.
		return nil, fmt.Errorf("httpconfig: HTTPClient: %w: %w", subject.ErrInvalid, err)
	}
	if o := hc.OAuth2; o != nil {
		rt = newSerialGate(rt, o.ClientSecretFile != "" || o.ClientSecretRef != "")
	}
	return &transport{next: rt, secure: cfg.TLS != nil || tlsFiles}, nil
}

// transport is what NewRoundTripper returns. It is a pointer with no
// exported field, so that printing a configuration that holds it (a
// promclient.Config, a tikv.Config) shows an address and no credential.
type transport struct {
	next http.RoundTripper
	// secure refuses plaintext: the transport was configured for TLS,
	// which an http:// request would silently go without.
	secure bool
}

// RoundTrip refuses a plaintext request when the transport is secure.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.secure && req.URL.Scheme != "https" {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("httpconfig: %w: TLS is configured but %s is plaintext http://", subject.ErrInvalid, req.URL.Redacted())
	}
	return t.next.RoundTrip(req)
}

// CloseIdleConnections closes next's idle connections.
func (t *transport) CloseIdleConnections() { closeIdle(t.next) }

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// secretType is the type of every credential in HTTPClientConfig.
var secretType = reflect.TypeFor[config.Secret]()

// redactSecrets returns a deep copy of hc with every non-empty Secret, at
// any depth, replaced by "<secret>". It walks the value rather than naming
// the fields so that secrets prometheus/common adds later are covered too.
func redactSecrets(hc config.HTTPClientConfig) config.HTTPClientConfig {
	out := reflect.New(reflect.TypeOf(hc)).Elem()
	redactValue(out, reflect.ValueOf(hc))
	return out.Interface().(config.HTTPClientConfig)
}

// redactValue copies src into dst (settable, of src's type), redacting.
func redactValue(dst, src reflect.Value) {
	switch {
	case src.Type() == secretType:
		if src.Len() > 0 {
			dst.SetString("<secret>")
		}
		return
	case src.Kind() == reflect.Pointer:
		if !src.IsNil() {
			dst.Set(reflect.New(src.Type().Elem()))
			redactValue(dst.Elem(), src.Elem())
		}
		return
	case src.Kind() == reflect.Struct:
		for i := range src.NumField() {
			if dst.Field(i).CanSet() {
				redactValue(dst.Field(i), src.Field(i))
			}
		}
		return
	case src.Kind() == reflect.Slice:
		if !src.IsNil() {
			dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
			for i := range src.Len() {
				redactValue(dst.Index(i), src.Index(i))
			}
		}
		return
	case src.Kind() == reflect.Map:
		if !src.IsNil() {
			dst.Set(reflect.MakeMapWithSize(src.Type(), src.Len()))
			for it := src.MapRange(); it.Next(); {
				v := reflect.New(src.Type().Elem()).Elem()
				redactValue(v, it.Value())
				dst.SetMapIndex(it.Key(), v)
			}
		}
		return
	}
	dst.Set(src)
}
