package pdclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// defaultTransport is the transport of a client given none: a clone of
// http.DefaultTransport speaking HTTP/1.1 only. Over HTTP/2, when a server
// refuses the connection after the handshake (TLS 1.3 checks the client's
// certificate then), a request may learn only that the connection "could
// not be established"; over HTTP/1.1 each request reports the refusal
// itself.
func defaultTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	return tr
}

// httpClient builds the HTTP client, applying the TLS configuration and,
// when TLS is on, refusing redirects to plaintext.
func httpClient(base *http.Client, tc *tls.Config, secure bool) (*http.Client, error) {
	var hc http.Client
	if base != nil {
		hc = *base
	}
	if tc != nil {
		switch t := hc.Transport.(type) {
		case nil:
			tr := defaultTransport()
			tr.TLSClientConfig = tc.Clone()
			hc.Transport = tr
		case *http.Transport:
			tr := t.Clone()
			tr.TLSClientConfig = tc.Clone()
			hc.Transport = tr
		default:
			return nil, badConfig("TLS cannot be applied to an HTTPClient whose transport is %T: set TLS in the transport and leave Config.TLS nil", t)
		}
	} else if hc.Transport == nil {
		hc.Transport = defaultTransport()
	}
	if secure {
		next := hc.CheckRedirect
		hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" {
				return fmt.Errorf("pdclient: refusing redirect to plaintext %s", req.URL.Redacted())
			}
			if next != nil {
				return next(req, via)
			}
			if len(via) >= 10 {
				return errors.New("pdclient: stopped after 10 redirects")
			}
			return nil
		}
	}
	return &hc, nil
}

// isDialError reports whether err happened before the request could be
// sent: the connection was never made.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
