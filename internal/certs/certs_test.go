package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/certs"
)

// TestMutualTLS serves HTTPS with a server certificate that requires a
// client certificate from the same authority, and checks who gets in.
func TestMutualTLS(t *testing.T) {
	ca, err := certs.NewAuthority("test-ca")
	require.NoError(t, err)
	other, err := certs.NewAuthority("other-ca")
	require.NoError(t, err)
	srvPair, err := ca.Server()
	require.NoError(t, err)
	client, err := ca.Client("operator")
	require.NoError(t, err)
	stranger, err := other.Client("stranger")
	require.NoError(t, err)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvPair.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()

	get := func(certs ...tls.Certificate) (string, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	got, err := get(client.TLS)
	require.NoError(t, err)
	require.Equal(t, "operator", got)
	_, err = get()
	require.Error(t, err, "no client certificate")
	_, err = get(stranger.TLS)
	require.Error(t, err, "a client certificate from another authority")

	dir := t.TempDir()
	cf, kf, err := client.WriteFiles(dir, "client")
	require.NoError(t, err)
	_, err = tls.LoadX509KeyPair(cf, kf)
	require.NoError(t, err)
	fi, err := os.Stat(kf)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	var unknown x509.UnknownAuthorityError
	_, err = srvPair.TLS.Leaf.Verify(x509.VerifyOptions{Roots: other.Pool()})
	require.ErrorAs(t, err, &unknown)
}
