package subject

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Key is a key of the cluster's key space. It marshals, as text and so in
// JSON, to upper-case hex, as PD prints keys, and unmarshals from hex in
// either case, so that a key read from one tool's output can be given
// back as another's input unchanged. The empty key (the start or, as an
// end, the end of the key space) is "".
//
// Key is a []byte: a []byte is assigned to it, and it to a []byte,
// without a conversion.
type Key []byte

// ParseKey parses a key written in hex, in either case. Anything else is
// an error matching [ErrInvalid].
func ParseKey(s string) (Key, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("subject: key %q is not hex: %v: %w", s, err, ErrInvalid)
	}
	return Key(b), nil
}

// String returns the key in upper-case hex.
func (k Key) String() string { return strings.ToUpper(hex.EncodeToString(k)) }

// MarshalText implements encoding.TextMarshaler: upper-case hex.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: hex in either case.
func (k *Key) UnmarshalText(b []byte) error {
	v, err := ParseKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
