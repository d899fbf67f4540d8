package httpconfig_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/common/config"

	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/httpconfig"
	"github.com/kvops/operator/subject"
)

// A promclient.Client that sends a bearer token read from a file at each
// request, over TLS to a Prometheus whose certificate names
// prometheus.internal, as Prometheus' own configuration would say it.
// Given a plaintext address, the transport refuses to send anything rather
// than drop its TLS settings.
func Example() {
	rt, err := httpconfig.NewRoundTripper(httpconfig.Config{HTTPClient: config.HTTPClientConfig{
		BearerTokenFile: "/run/secrets/prometheus-token",
		TLSConfig:       config.TLSConfig{ServerName: "prometheus.internal"},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	prom, err := promclient.New(promclient.Config{Address: "http://127.0.0.1:9090", RoundTripper: rt})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _, err = prom.StoreMetrics(context.Background(), []subject.Store{{ID: 1, StatusAddress: "127.0.0.1:20180"}})
	fmt.Println(errors.Is(err, subject.ErrInvalid), errors.Is(err, promclient.ErrUnavailable))
	// Output: true false
}
