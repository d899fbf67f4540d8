// Package ejregion holds the easyjson candidate of the regions benchmark:
// easyjson's generated decoder for pdclient.Region (region_easyjson.go,
// made by `go generate`).
package ejregion

import "github.com/kvops/operator/pdclient"

// Region is pdclient.Region with easyjson's generated decoder.
//
//easyjson:json
type Region pdclient.Region

//go:generate go run github.com/mailru/easyjson/easyjson@v0.9.2 -no_std_marshalers region.go
