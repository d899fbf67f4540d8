package tikvtest

import units "github.com/docker/go-units"

// humanSize formats a byte count as PD does: typeutil.ByteSize.MarshalJSON
// (tikv/pd pkg/utils/typeutil/size.go) writes units.BytesSize, base 1024,
// "%.4g" and a binary unit, "836.5GiB".
func humanSize(b uint64) string { return units.BytesSize(float64(b)) }
