package tikvtest

import "strconv"

var binaryAbbrs = [...]string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}

// humanSize formats a byte count as PD does (typeutil.ByteSize uses
// go-units' BytesSize: base 1024, "%.4g" and a binary unit, "836.5GiB").
func humanSize(b uint64) string {
	size := float64(b)
	i := 0
	for size >= 1024 && i < len(binaryAbbrs)-1 {
		size /= 1024
		i++
	}
	return strconv.FormatFloat(size, 'g', 4, 64) + binaryAbbrs[i]
}
