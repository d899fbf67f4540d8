package certs_test

import (
	"crypto/tls"
	"fmt"

	"github.com/kvops/operator/internal/certs"
)

func Example() {
	ca, err := certs.NewAuthority("test-ca")
	if err != nil {
		panic(err)
	}
	server, err := ca.Server()
	if err != nil {
		panic(err)
	}
	client, err := ca.Client("operator")
	if err != nil {
		panic(err)
	}
	serverCfg := &tls.Config{Certificates: []tls.Certificate{server.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	clientCfg := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}}
	fmt.Println(serverCfg.ClientAuth, len(clientCfg.Certificates), client.TLS.Leaf.Subject.CommonName)
	// Output: RequireAndVerifyClientCert 1 operator
}
