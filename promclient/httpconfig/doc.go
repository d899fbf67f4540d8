// Package httpconfig builds a transport for promclient from Prometheus'
// own HTTP client configuration, [config.HTTPClientConfig] of
// prometheus/common: the basic_auth, authorization, bearer_token(_file),
// oauth2, tls_config, proxy and http_headers settings that users of
// Prometheus know from its scrape and remote-write configurations.
//
//	rt, err := httpconfig.NewRoundTripper(httpconfig.Config{
//		HTTPClient: config.HTTPClientConfig{BearerTokenFile: "/run/secrets/prom-token"},
//	})
//	...
//	prom, err := promclient.New(promclient.Config{Address: "https://prom:9090", RoundTripper: rt})
//
// It is a package of its own because prometheus/common/config brings
// oauth2, jwt, uuid and go-conntrack and, through them, client_golang's
// metric registry, protobuf and procfs: megabytes that a program reading
// Prometheus without credentials, or with a transport of its own, should
// not carry. promclient itself takes any [net/http.RoundTripper] or
// [*net/http.Client].
package httpconfig
