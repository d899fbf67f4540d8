package promtest

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// Front starts a reverse proxy to target on a real loopback listener,
// HTTPS with serverTLS when it is set, whose outgoing requests go through
// rt (which sees the client's headers), and returns its URL. It stops when
// the test ends. Tests put it in front of a real Prometheus to require
// what Prometheus itself does not check (a client certificate) or to see
// what the client sends (credentials).
func Front(t testing.TB, target string, serverTLS *tls.Config, rt http.RoundTripper) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("promtest: front for %q: %v", target, err)
	}
	srv := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }, Transport: rt})
	if serverTLS == nil {
		srv.Start()
	} else {
		srv.TLS = serverTLS
		srv.StartTLS()
	}
	t.Cleanup(srv.Close)
	return srv.URL
}
