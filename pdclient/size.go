package pdclient

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseSize parses a size as PD writes it in store statuses ("836.5GiB",
// "1TiB", "0B") and returns it in bytes. PD formats sizes with binary
// multiples; like PD's own parser, ParseSize reads every unit as binary
// ("1KB" and "1KiB" are both 1024 bytes) and ignores letter case and a space
// between number and unit. A number without a unit is bytes. Fractions are
// rounded to the nearest byte.
//
// Negative numbers, NaN, infinities, exponents, unknown units and sizes of
// 2^64 bytes or more are errors.
//
// PD parses sizes with go-units' RAMInBytes (typeutil.ByteSize). ParseSize
// reads every size of the form PD writes as RAMInBytes does, to the byte or
// one more (RAMInBytes truncates a fraction of a byte, ParseSize rounds it:
// TestParseSizeAgreesWithPD, FuzzParseSizeAgreesWithPD). It is not a call
// to RAMInBytes because that reads exponents and signs, returns garbage for
// sizes of 2^63 bytes or more, and cannot read the "EiB" PD writes past
// 1024 PiB.
func ParseSize(s string) (uint64, error) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	if num == "" || strings.Count(num, ".") > 1 || num == "." {
		return 0, fmt.Errorf("pdclient: size %q: no number", s)
	}
	shift, ok := sizeUnit(unit)
	if !ok {
		return 0, fmt.Errorf("pdclient: size %q: unknown unit %q", s, unit)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pdclient: size %q: out of range", s)
		}
		if shift > 0 && n > math.MaxUint64>>shift {
			return 0, fmt.Errorf("pdclient: size %q: out of range", s)
		}
		return n << shift, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("pdclient: size %q: %w", s, err)
	}
	v := math.Round(math.Ldexp(f, int(shift)))
	if v >= math.Ldexp(1, 64) {
		return 0, fmt.Errorf("pdclient: size %q: out of range", s)
	}
	return uint64(v), nil
}

// sizeUnit returns the power of two a unit stands for.
func sizeUnit(u string) (uint, bool) {
	u = strings.ToLower(u)
	if u == "" || u == "b" {
		return 0, true
	}
	u = strings.TrimSuffix(u, "b")
	u = strings.TrimSuffix(u, "i")
	if len(u) != 1 {
		return 0, false
	}
	i := strings.IndexByte("kmgtpe", u[0])
	if i < 0 {
		return 0, false
	}
	return uint(10 * (i + 1)), true
}
