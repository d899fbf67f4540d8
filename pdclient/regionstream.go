package pdclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/bits"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	// regionBufSize is the size of the decoder's read buffer: its memory use
	// does not grow with the answer.
	regionBufSize = 64 << 10
	// maxTokenLen caps one string or key (raw, escapes included) so that a
	// hostile answer cannot make the decoder buffer without bound.
	maxTokenLen = 1 << 20
	// maxSkipDepth caps the nesting of a value under a key the decoder does
	// not know; encoding/json refuses deeper nesting too.
	maxSkipDepth = 10000
)

// DecodeError is what a RegionDecoder returns for an answer it cannot
// decode: invalid JSON, a value of the wrong type, a number out of range, a
// truncated answer or a failed read.
type DecodeError struct {
	// Offset is the byte offset in the input where the problem was found.
	Offset int64
	// Expected says what the decoder expected there, such as
	// `an unsigned integer for "id"`.
	Expected string
	// Found says what it found instead, such as "a string" or "end of input".
	Found string
	// Err is the underlying error, if any: io.ErrUnexpectedEOF for a
	// truncated answer, or the reader's error.
	Err error
}

// Error describes where decoding failed and why.
func (e *DecodeError) Error() string {
	msg := fmt.Sprintf("pdclient: decoding regions at byte %d: expected %s, found %s", e.Offset, e.Expected, e.Found)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error, so that errors.Is(err,
// io.ErrUnexpectedEOF) reports a truncated answer.
func (e *DecodeError) Unwrap() error { return e.Err }

// expectNoDuplicateRegions is the Expected of the error for an answer with a
// second "regions" array after regions were already returned: a stream cannot
// take them back, where encoding/json would keep only the last array.
const expectNoDuplicateRegions = `no second "regions" key after regions were returned`

// RegionDecoder reads a PD regions answer one region at a time, in constant memory.
//
// The answer is the body of PD's /regions family of endpoints:
// {"count":N,"regions":[{...},...]}, with "regions" possibly null (as
// /regions/count answers). Keys may come in any order and unknown keys are
// skipped; keys match Region's json tags the way encoding/json matches them
// (exactly, else case-insensitively). The decoder gives the same regions as
// encoding/json does for every answer encoding/json accepts, except that it
// refuses a top-level null and a second "regions" array once regions have
// been returned.
//
// A RegionDecoder buffers 64 KiB of input and at most 1 MiB for one string.
// It is not safe for concurrent use.
type RegionDecoder struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte in buf
	end  int   // end of the valid bytes in buf
	base int64 // input offset of buf[0]
	rerr error // the reader's error, seen once buf is used up
	err  error // sticky result of Next: io.EOF or a *DecodeError

	started    bool // the answer's '{' has been read
	objFirst   bool // no member of the answer read yet
	inArray    bool // inside the "regions" array
	arrayFirst bool // no element of the current array read yet
	yielded    bool // a region has been returned
	count      int
	hasCount   bool

	raw   []byte // a string's raw bytes when they cross a buffer refill
	str   []byte // a string with its escapes decoded
	key   []byte // a key kept across a refill
	fold  []byte // a key folded for case-insensitive matching
	stack []byte // open containers while skipping a value
}

// NewRegionDecoder returns a decoder reading a PD regions answer from r.
func NewRegionDecoder(r io.Reader) *RegionDecoder {
	return &RegionDecoder{r: r, buf: make([]byte, regionBufSize)}
}

// Count returns the answer's "count" field once it has been read. PD writes
// it before "regions", so it is known after the first call to Next.
func (d *RegionDecoder) Count() (int, bool) { return d.count, d.hasCount }

// Next decodes the next region into *r, reusing r's slices; io.EOF after the last one.
//
// *r is overwritten whole: fields absent from the region are zero, and
// Peers, DownPeers and PendingPeers keep their backing arrays, so a caller
// that retains a region past the next call must copy those slices. Strings
// never share the decoder's memory and may be kept. Any other error is a
// *DecodeError, and Next keeps returning it.
func (d *RegionDecoder) Next(r *Region) error {
	if d.err != nil {
		return d.err
	}
	if err := d.next(r); err != nil {
		d.err = err
		return err
	}
	return nil
}

// All iterates every region (iter.Seq2[*Region, error]).
//
// The *Region is reused between iterations: it is valid until the loop body
// returns, and a caller that keeps a region must copy it and its slices. On a
// decoding error the iterator yields (nil, err) once and stops; it stops
// silently after the last region.
func (d *RegionDecoder) All() iter.Seq2[*Region, error] {
	return func(yield func(*Region, error) bool) {
		var r Region
		for {
			err := d.Next(&r)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(&r, nil) {
				return
			}
		}
	}
}

func (d *RegionDecoder) next(r *Region) error {
	for {
		if d.inArray {
			c, ok := d.nonSpace()
			if d.arrayFirst {
				if ok && c == ']' {
					d.pos++
					d.inArray = false
					continue
				}
			} else {
				switch {
				case ok && c == ']':
					d.pos++
					d.inArray = false
					continue
				case ok && c == ',':
					d.pos++
				default:
					return d.unexpected(`',' or ']' after a region`)
				}
			}
			d.arrayFirst = false
			d.yielded = true
			return d.decodeRegion(r)
		}
		if !d.started {
			if c, ok := d.nonSpace(); !ok || c != '{' {
				return d.unexpected("'{' opening the regions answer")
			}
			d.pos++
			d.started, d.objFirst = true, true
		}
		key, more, err := d.nextMember(&d.objFirst, "the regions answer")
		if err != nil {
			return err
		}
		if !more {
			if _, ok := d.nonSpace(); ok || !errors.Is(d.rerr, io.EOF) {
				return d.unexpected("end of input after the regions answer")
			}
			return io.EOF
		}
		switch d.field(key, answerField) {
		case fCount:
			var n int64
			set, err := d.readInt(&n, "count", math.MinInt, math.MaxInt)
			if err != nil {
				return err
			}
			if set {
				d.count, d.hasCount = int(n), true
			}
		case fRegions:
			if d.yielded {
				return &DecodeError{Offset: d.offset(), Expected: expectNoDuplicateRegions, Found: `a second "regions"`}
			}
			c, ok := d.nonSpace()
			switch {
			case ok && c == 'n':
				if err := d.literal("null"); err != nil {
					return err
				}
			case ok && c == '[':
				d.pos++
				d.inArray, d.arrayFirst = true, true
			default:
				return d.unexpected(`an array for "regions"`)
			}
		default:
			if err := d.skipValue(); err != nil {
				return err
			}
		}
	}
}

// Field codes, shared by all the objects of the answer.
const (
	fUnknown = iota
	fCount
	fRegions
	fID
	fStartKey
	fEndKey
	fEpoch
	fPeers
	fLeader
	fDownPeers
	fPendingPeers
	fCPUUsage
	fWrittenBytes
	fReadBytes
	fWrittenKeys
	fReadKeys
	fApproximateSize
	fApproximateKeys
	fApproximateKvSize
	fApproximateColumnarKvSize
	fConfVer
	fVersion
	fRoleName
	fIsLearner
	fStoreID
	fPeer
	fDownSeconds
)

func answerField(k []byte) int {
	switch string(k) {
	case "count":
		return fCount
	case "regions":
		return fRegions
	}
	return fUnknown
}

func regionField(k []byte) int {
	switch string(k) {
	case "id":
		return fID
	case "start_key":
		return fStartKey
	case "end_key":
		return fEndKey
	case "epoch":
		return fEpoch
	case "peers":
		return fPeers
	case "leader":
		return fLeader
	case "down_peers":
		return fDownPeers
	case "pending_peers":
		return fPendingPeers
	case "cpu_usage":
		return fCPUUsage
	case "written_bytes":
		return fWrittenBytes
	case "read_bytes":
		return fReadBytes
	case "written_keys":
		return fWrittenKeys
	case "read_keys":
		return fReadKeys
	case "approximate_size":
		return fApproximateSize
	case "approximate_keys":
		return fApproximateKeys
	case "approximate_kv_size":
		return fApproximateKvSize
	case "approximate_columnar_kv_size":
		return fApproximateColumnarKvSize
	}
	return fUnknown
}

func epochField(k []byte) int {
	switch string(k) {
	case "conf_ver":
		return fConfVer
	case "version":
		return fVersion
	}
	return fUnknown
}

func peerField(k []byte) int {
	switch string(k) {
	case "role_name":
		return fRoleName
	case "is_learner":
		return fIsLearner
	case "id":
		return fID
	case "store_id":
		return fStoreID
	}
	return fUnknown
}

func peerStatField(k []byte) int {
	switch string(k) {
	case "peer":
		return fPeer
	case "down_seconds":
		return fDownSeconds
	}
	return fUnknown
}

// field matches a key against an object's fields as encoding/json does:
// exactly first, then under Unicode simple case folding.
func (d *RegionDecoder) field(key []byte, match func([]byte) int) int {
	if f := match(key); f != fUnknown {
		return f
	}
	// Every field name is lowercase ASCII, so folding the key to lowercase
	// ASCII where it can be is enough to find a case-insensitive match.
	d.fold = d.fold[:0]
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			d.fold = append(d.fold, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:])
		i += n
		// The smallest rune of r's fold orbit is ASCII for the Kelvin sign
		// (K) and the long s (s), as encoding/json's foldName finds.
		f := r
		for {
			f2 := unicode.SimpleFold(f)
			if f2 <= f {
				f = f2
				break
			}
			f = f2
		}
		if f < utf8.RuneSelf {
			d.fold = append(d.fold, byte(unicode.ToLower(f)))
		} else {
			d.fold = utf8.AppendRune(d.fold, f)
		}
	}
	return match(d.fold)
}

// resetRegion zeroes *r but keeps its slices' backing arrays, cleared, so
// that elements decoded into them start from zero as with encoding/json.
func resetRegion(r *Region) {
	peers := r.Peers[:cap(r.Peers)]
	down := r.DownPeers[:cap(r.DownPeers)]
	pending := r.PendingPeers[:cap(r.PendingPeers)]
	clear(peers)
	clear(down)
	clear(pending)
	*r = Region{Peers: peers[:0], DownPeers: down[:0], PendingPeers: pending[:0]}
}

func (d *RegionDecoder) decodeRegion(r *Region) error {
	prevStart, prevEnd := r.StartKey, r.EndKey
	resetRegion(r)
	return d.object("regions", "a region", regionField, regionNext, func(f int) (err error) {
		switch f {
		case fID:
			_, err = d.readUint(&r.ID, "id")
		case fStartKey:
			err = d.readKey(&r.StartKey, "start_key", prevEnd, prevStart)
		case fEndKey:
			err = d.readKey(&r.EndKey, "end_key", prevEnd, prevStart)
		case fEpoch:
			err = d.decodeEpoch(&r.Epoch)
		case fPeers:
			r.Peers, err = decodeArray(d, r.Peers, (*RegionDecoder).decodePeer, "peers")
		case fLeader:
			err = d.decodePeer(&r.Leader, "leader")
		case fDownPeers:
			r.DownPeers, err = decodeArray(d, r.DownPeers, (*RegionDecoder).decodePeerStat, "down_peers")
		case fPendingPeers:
			r.PendingPeers, err = decodeArray(d, r.PendingPeers, (*RegionDecoder).decodePeer, "pending_peers")
		case fCPUUsage:
			_, err = d.readUint(&r.CPUUsage, "cpu_usage")
		case fWrittenBytes:
			_, err = d.readUint(&r.WrittenBytes, "written_bytes")
		case fReadBytes:
			_, err = d.readUint(&r.ReadBytes, "read_bytes")
		case fWrittenKeys:
			_, err = d.readUint(&r.WrittenKeys, "written_keys")
		case fReadKeys:
			_, err = d.readUint(&r.ReadKeys, "read_keys")
		case fApproximateSize:
			_, err = d.readInt(&r.ApproximateSize, "approximate_size", math.MinInt64, math.MaxInt64)
		case fApproximateKeys:
			_, err = d.readInt(&r.ApproximateKeys, "approximate_keys", math.MinInt64, math.MaxInt64)
		case fApproximateKvSize:
			_, err = d.readInt(&r.ApproximateKvSize, "approximate_kv_size", math.MinInt64, math.MaxInt64)
		case fApproximateColumnarKvSize:
			_, err = d.readInt(&r.ApproximateColumnarKvSize, "approximate_columnar_kv_size", math.MinInt64, math.MaxInt64)
		}
		return err
	})
}

// object decodes an object (or null, which encoding/json takes as leaving a
// struct alone) for field, calling member for each key that match knows and
// skipping the others; what names the object in errors. next gives the key
// PD writes after a given field, which is then checked for before any
// general decoding of a key.
func (d *RegionDecoder) object(field, what string, match func([]byte) int, next func(prev int) (string, int), member func(f int) error) error {
	open, err := d.openObject(field)
	if !open || err != nil {
		return err
	}
	first, prev := true, fUnknown
	for {
		var f int
		if lit, pf := next(prev); lit != "" && d.predicted(first, lit) {
			first, f = false, pf
		} else {
			key, more, err := d.nextMember(&first, what)
			if err != nil || !more {
				return err
			}
			f = d.field(key, match)
		}
		if f != fUnknown {
			prev = f
			err = member(f)
		} else {
			err = d.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

// predicted reports whether the next member starts with lit, a quoted key
// and its ':', right after the ',' unless it is the first member; if so, it
// consumes them. PD writes compact JSON in a fixed field order, so this
// usually spares decoding and matching the key.
func (d *RegionDecoder) predicted(first bool, lit string) bool {
	p := d.pos
	if !first {
		if p >= d.end || d.buf[p] != ',' {
			return false
		}
		p++
	}
	if d.end-p < len(lit) || string(d.buf[p:p+len(lit)]) != lit {
		return false
	}
	d.pos = p + len(lit)
	return true
}

// regionNext gives the key PD writes after field prev of a region, quoted
// and with its ':' (see object).
func regionNext(prev int) (string, int) {
	switch prev {
	case fUnknown:
		return `"id":`, fID
	case fID:
		return `"start_key":`, fStartKey
	case fStartKey:
		return `"end_key":`, fEndKey
	case fEndKey:
		return `"epoch":`, fEpoch
	case fEpoch:
		return `"peers":`, fPeers
	case fPeers:
		return `"leader":`, fLeader
	case fLeader, fDownPeers, fPendingPeers:
		return `"cpu_usage":`, fCPUUsage
	case fCPUUsage:
		return `"written_bytes":`, fWrittenBytes
	case fWrittenBytes:
		return `"read_bytes":`, fReadBytes
	case fReadBytes:
		return `"written_keys":`, fWrittenKeys
	case fWrittenKeys:
		return `"read_keys":`, fReadKeys
	case fReadKeys:
		return `"approximate_size":`, fApproximateSize
	case fApproximateSize:
		return `"approximate_keys":`, fApproximateKeys
	case fApproximateKeys:
		return `"approximate_kv_size":`, fApproximateKvSize
	case fApproximateKvSize:
		return `"approximate_columnar_kv_size":`, fApproximateColumnarKvSize
	}
	return "", fUnknown
}

func epochNext(prev int) (string, int) {
	switch prev {
	case fUnknown:
		return `"conf_ver":`, fConfVer
	case fConfVer:
		return `"version":`, fVersion
	}
	return "", fUnknown
}

func peerNext(prev int) (string, int) {
	switch prev {
	case fUnknown:
		return `"role_name":`, fRoleName
	case fRoleName, fIsLearner:
		return `"id":`, fID
	case fID:
		return `"store_id":`, fStoreID
	}
	return "", fUnknown
}

func peerStatNext(prev int) (string, int) {
	switch prev {
	case fUnknown:
		return `"peer":`, fPeer
	case fPeer:
		return `"down_seconds":`, fDownSeconds
	}
	return "", fUnknown
}

// openObject consumes the '{' of an object for field, or a null; it reports
// whether an object follows.
func (d *RegionDecoder) openObject(field string) (bool, error) {
	c, ok := d.nonSpace()
	switch {
	case ok && c == '{':
		d.pos++
		return true, nil
	case ok && c == 'n':
		// encoding/json leaves a struct alone for null.
		return false, d.literal("null")
	}
	return false, d.unexpected("an object for " + strconv.Quote(field))
}

func (d *RegionDecoder) decodeEpoch(e *RegionEpoch) error {
	return d.object("epoch", `"epoch"`, epochField, epochNext, func(f int) (err error) {
		switch f {
		case fConfVer:
			_, err = d.readUint(&e.ConfVer, "conf_ver")
		case fVersion:
			_, err = d.readUint(&e.Version, "version")
		}
		return err
	})
}

func (d *RegionDecoder) decodePeer(p *Peer, field string) error {
	return d.object(field, "a peer", peerField, peerNext, func(f int) (err error) {
		switch f {
		case fRoleName:
			err = d.readRole(&p.RoleName)
		case fIsLearner:
			err = d.readBool(&p.IsLearner, "is_learner")
		case fID:
			_, err = d.readUint(&p.ID, "id")
		case fStoreID:
			_, err = d.readUint(&p.StoreID, "store_id")
		}
		return err
	})
}

func (d *RegionDecoder) decodePeerStat(p *PeerStat, field string) error {
	return d.object(field, "a down peer", peerStatField, peerStatNext, func(f int) (err error) {
		switch f {
		case fPeer:
			err = d.decodePeer(&p.Peer, "peer")
		case fDownSeconds:
			_, err = d.readUint(&p.DownSeconds, "down_seconds")
		}
		return err
	})
}

// decodeArray decodes a JSON array (or null) into s, reusing its backing
// array the way encoding/json does: elements are decoded in place, so a
// duplicate key merges into what an earlier one left, exactly as there.
func decodeArray[T any](d *RegionDecoder, s []T, elem func(*RegionDecoder, *T, string) error, field string) ([]T, error) {
	c, ok := d.nonSpace()
	if ok && c == 'n' {
		// encoding/json sets the slice to nil: later elements start from zero.
		clear(s[:cap(s)])
		return s[:0], d.literal("null")
	}
	if !ok || c != '[' {
		return s, d.unexpected("an array for " + strconv.Quote(field))
	}
	d.pos++
	i := 0
	for {
		c, ok := d.nonSpace()
		if i == 0 && ok && c == ']' {
			d.pos++
			// encoding/json makes a new empty slice for [].
			clear(s[:cap(s)])
			return s[:0], nil
		}
		if i < cap(s) {
			s = s[:i+1]
		} else {
			var zero T
			s = append(s[:i], zero)
		}
		if err := elem(d, &s[i], field); err != nil {
			return s[:i], err
		}
		i++
		c, ok = d.nonSpace()
		switch {
		case ok && c == ',':
			d.pos++
		case ok && c == ']':
			d.pos++
			return s[:i], nil
		default:
			return s[:i], d.unexpected("',' or ']' in " + strconv.Quote(field))
		}
	}
}

// nextMember reads the next key of an object whose '{' has been consumed,
// and the ':' after it. It reports false at the object's '}'. The key is
// valid until the next read.
func (d *RegionDecoder) nextMember(first *bool, what string) ([]byte, bool, error) {
	c, ok := d.nonSpace()
	if ok && c == '}' {
		d.pos++
		return nil, false, nil
	}
	if *first {
		*first = false
	} else {
		if !ok || c != ',' {
			return nil, false, d.unexpected("',' or '}' in " + what)
		}
		d.pos++
		c, ok = d.nonSpace()
	}
	if !ok || c != '"' {
		return nil, false, d.unexpected("a key in " + what)
	}
	d.pos++
	key, err := d.readString()
	if err != nil {
		return nil, false, err
	}
	if d.pos < d.end && d.buf[d.pos] == ':' {
		d.pos++
		return key, true, nil
	}
	// Finding the ':' may refill the buffer the key lives in.
	d.key = append(d.key[:0], key...)
	if c, ok := d.nonSpace(); !ok || c != ':' {
		return nil, false, d.unexpected("':' after a key")
	}
	d.pos++
	return d.key, true, nil
}

// readUint reads a uint64 for field into *dst; it reports false (and leaves
// *dst) for null, as encoding/json does.
func (d *RegionDecoder) readUint(dst *uint64, field string) (bool, error) {
	c, ok := d.nonSpace()
	switch {
	case ok && c == 'n':
		return false, d.literal("null")
	case !ok || (c != '-' && (c < '0' || c > '9')):
		return false, d.unexpected("an unsigned integer for " + strconv.Quote(field))
	}
	if n, ok := d.fastUint(c); ok {
		*dst = n
		return true, nil
	}
	start := d.offset()
	num, err := d.scanNumber()
	if err != nil {
		return false, err
	}
	if found := num.problem(false); found != "" {
		return false, &DecodeError{Offset: start, Expected: "an unsigned integer for " + strconv.Quote(field), Found: found}
	}
	*dst = num.mag
	return true, nil
}

// readInt reads an integer in [lo, hi] for field into *dst; it reports false
// (and leaves *dst) for null, as encoding/json does.
func (d *RegionDecoder) readInt(dst *int64, field string, lo, hi int64) (bool, error) {
	c, ok := d.nonSpace()
	switch {
	case ok && c == 'n':
		return false, d.literal("null")
	case !ok || (c != '-' && (c < '0' || c > '9')):
		return false, d.unexpected("an integer for " + strconv.Quote(field))
	}
	start := d.offset()
	if n, ok := d.fastUint(c); ok {
		if n > uint64(hi) {
			return false, &DecodeError{Offset: start, Expected: "an integer for " + strconv.Quote(field), Found: "a number out of range"}
		}
		*dst = int64(n)
		return true, nil
	}
	num, err := d.scanNumber()
	if err != nil {
		return false, err
	}
	if found := num.problem(true); found != "" {
		return false, &DecodeError{Offset: start, Expected: "an integer for " + strconv.Quote(field), Found: found}
	}
	var v int64
	switch {
	case num.neg && num.mag <= uint64(-(lo+1))+1:
		// Two's complement negation also gives lo itself, whose magnitude
		// int64 cannot hold.
		v = int64(-num.mag)
	case !num.neg && num.mag <= uint64(hi):
		v = int64(num.mag)
	default:
		return false, &DecodeError{Offset: start, Expected: "an integer for " + strconv.Quote(field), Found: "a number out of range"}
	}
	*dst = v
	return true, nil
}

// fastUint reads a non-negative integer of at most 19 digits, which cannot
// overflow, when it lies whole in the buffer; c is its first byte. It reports
// false, consuming nothing, when scanNumber must decide.
func (d *RegionDecoder) fastUint(c byte) (uint64, bool) {
	if c == '-' {
		return 0, false
	}
	limit := d.pos + 19
	if c == '0' {
		limit = d.pos + 1
	}
	i, n := d.pos, uint64(0)
	for ; i < d.end && i < limit; i++ {
		b := d.buf[i]
		if b < '0' || b > '9' {
			break
		}
		n = n*10 + uint64(b-'0')
	}
	if i >= d.end {
		return 0, false
	}
	switch b := d.buf[i]; {
	case '0' <= b && b <= '9', b == '.', b == 'e', b == 'E':
		return 0, false
	}
	d.pos = i
	return n, true
}

// number is a JSON number as scanned: its integer part's magnitude, unless
// that overflowed uint64.
type number struct {
	neg, fraction, overflow bool
	mag                     uint64
}

// problem says why num is not an integer of the wanted sign, or "".
func (num number) problem(signed bool) string {
	switch {
	case num.fraction:
		return "a number with a fraction or exponent"
	case num.overflow:
		return "a number out of range"
	case num.neg && !signed:
		return "a negative number"
	}
	return ""
}

// scanNumber reads a JSON number, checking its grammar.
func (d *RegionDecoder) scanNumber() (number, error) {
	var num number
	c, _ := d.peek()
	if c == '-' {
		num.neg = true
		d.pos++
		c, _ = d.peek()
	}
	switch {
	case c == '0':
		d.pos++
	case '1' <= c && c <= '9':
		for more := true; more; more = d.fill() {
			for ; d.pos < d.end; d.pos++ {
				c := d.buf[d.pos]
				if c < '0' || c > '9' {
					break
				}
				digit := uint64(c - '0')
				if num.mag > (math.MaxUint64-digit)/10 {
					num.overflow = true
				}
				num.mag = num.mag*10 + digit
			}
			if d.pos < d.end {
				break
			}
		}
	default:
		return num, d.unexpected("a digit")
	}
	if c, ok := d.peek(); ok && c == '.' {
		num.fraction = true
		d.pos++
		if err := d.digits(); err != nil {
			return num, err
		}
	}
	if c, ok := d.peek(); ok && (c == 'e' || c == 'E') {
		num.fraction = true
		d.pos++
		if c, ok := d.peek(); ok && (c == '+' || c == '-') {
			d.pos++
		}
		if err := d.digits(); err != nil {
			return num, err
		}
	}
	return num, nil
}

// digits consumes one or more decimal digits.
func (d *RegionDecoder) digits() error {
	if c, ok := d.peek(); !ok || c < '0' || c > '9' {
		return d.unexpected("a digit")
	}
	for {
		c, ok := d.peek()
		if !ok || c < '0' || c > '9' {
			return nil
		}
		d.pos++
	}
}

// readKey reads a string for a region's start_key or end_key, reusing one of
// the previous region's keys when it is the same (adjacent regions share one).
func (d *RegionDecoder) readKey(dst *string, field, reuse1, reuse2 string) error {
	c, ok := d.nonSpace()
	if ok && c == 'n' {
		return d.literal("null")
	}
	if !ok || c != '"' {
		return d.unexpected("a string for " + strconv.Quote(field))
	}
	d.pos++
	b, err := d.readString()
	if err != nil {
		return err
	}
	// Comparing string(b) does not allocate; a switch on it might.
	switch {
	case string(b) == reuse1:
		*dst = reuse1
	case string(b) == reuse2:
		*dst = reuse2
	default:
		*dst = string(b)
	}
	return nil
}

// readRole reads a peer's role_name, without allocating for PD's roles.
func (d *RegionDecoder) readRole(dst *string) error {
	c, ok := d.nonSpace()
	if ok && c == 'n' {
		return d.literal("null")
	}
	if !ok || c != '"' {
		return d.unexpected(`a string for "role_name"`)
	}
	d.pos++
	b, err := d.readString()
	if err != nil {
		return err
	}
	switch string(b) {
	case "Voter":
		*dst = "Voter"
	case "Learner":
		*dst = "Learner"
	case "IncomingVoter":
		*dst = "IncomingVoter"
	case "DemotingVoter":
		*dst = "DemotingVoter"
	default:
		*dst = string(b)
	}
	return nil
}

func (d *RegionDecoder) readBool(dst *bool, field string) error {
	c, ok := d.nonSpace()
	switch {
	case ok && c == 'n':
		return d.literal("null")
	case ok && c == 't':
		*dst = true
		return d.literal("true")
	case ok && c == 'f':
		*dst = false
		return d.literal("false")
	}
	return d.unexpected("a boolean for " + strconv.Quote(field))
}

// readString reads a string whose opening quote has been consumed and
// returns it with escapes decoded and invalid UTF-8 replaced by U+FFFD, as
// encoding/json does. The result is valid until the next read.
func (d *RegionDecoder) readString() ([]byte, error) {
	b := d.buf[d.pos:d.end]
	if i := plainPrefix(b); i < len(b) && b[i] == '"' {
		d.pos += i + 1
		return b[:i:i], nil
	}
	return d.readStringSlow()
}

// plainPrefix returns the length of b's prefix of bytes that need no care
// in a string: printable ASCII other than '"' and '\'. It looks at eight
// bytes at a time, as PD's keys are long.
func plainPrefix(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		// Each term flags (in its byte's high bit) a quote, a backslash, a
		// control character, or a non-ASCII byte; a term can flag a byte
		// wrongly only above one it flags rightly, so the lowest flag is
		// the first such byte.
		if m := ((q-ones)&^q | (bs-ones)&^bs | (x-ones*' ')&^x | x) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// readStringSlow handles strings with escapes or non-ASCII bytes, and
// strings that cross the end of the buffer.
func (d *RegionDecoder) readStringSlow() ([]byte, error) {
	start := d.offset()
	d.raw = d.raw[:0]
	spilled, escaped := false, false
	for {
		for i := d.pos; i < d.end; i++ {
			c := d.buf[i]
			if escaped {
				switch c {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u':
				default:
					d.pos = i
					return nil, d.unexpected("an escape character after '\\'")
				}
				escaped = false
				continue
			}
			switch {
			case c == '"':
				raw := d.buf[d.pos:i]
				if spilled {
					d.raw = append(d.raw, raw...)
					raw = d.raw
				}
				if len(raw) > maxTokenLen {
					return nil, d.tooLong(start)
				}
				d.pos = i + 1
				return d.unquote(raw, start)
			case c == '\\':
				escaped = true
			case c < ' ':
				d.pos = i
				return nil, d.unexpected("a string character (control characters must be escaped)")
			}
		}
		d.raw = append(d.raw, d.buf[d.pos:d.end]...)
		spilled = true
		d.pos = d.end
		if len(d.raw) > maxTokenLen {
			return nil, d.tooLong(start)
		}
		if !d.fill() {
			return nil, d.unexpected("the rest of a string")
		}
	}
}

func (d *RegionDecoder) tooLong(start int64) error {
	return &DecodeError{Offset: start, Expected: fmt.Sprintf("a string of at most %d bytes", maxTokenLen), Found: "a longer string"}
}

// unquote decodes the escapes of a string's raw bytes s, which start at
// input offset start, into d.str, with encoding/json's rules for invalid
// surrogates and invalid UTF-8.
func (d *RegionDecoder) unquote(s []byte, start int64) ([]byte, error) {
	b := d.str[:0]
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			// readStringSlow made sure an escape character follows.
			switch e := s[r+1]; e {
			case 'u':
				rr := getu4(s[r:])
				if rr < 0 {
					return nil, &DecodeError{Offset: start + int64(r), Expected: `four hex digits after "\u"`, Found: "something else"}
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	d.str = b
	return b, nil
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		v, ok := hexValue(c)
		if !ok {
			return -1
		}
		r = r*16 + rune(v)
	}
	return r
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// skipValue reads and checks one JSON value of any type without keeping it,
// as for a key the decoder does not know. It needs no memory beyond one byte
// per level of nesting.
func (d *RegionDecoder) skipValue() error {
	d.stack = d.stack[:0]
	for {
		// A value is expected.
		c, ok := d.nonSpace()
		switch {
		case !ok:
			return d.unexpected("a value")
		case c == '{' || c == '[':
			if len(d.stack) >= maxSkipDepth {
				return d.unexpected(fmt.Sprintf("at most %d levels of nesting", maxSkipDepth))
			}
			d.pos++
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if c, ok := d.nonSpace(); ok && c == closer {
				d.pos++
				break
			}
			d.stack = append(d.stack, c)
			if c == '{' {
				if err := d.skipKey(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			d.pos++
			if err := d.skipString(); err != nil {
				return err
			}
		case c == 't':
			if err := d.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := d.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := d.literal("null"); err != nil {
				return err
			}
		case c == '-' || ('0' <= c && c <= '9'):
			if _, err := d.scanNumber(); err != nil {
				return err
			}
		default:
			return d.unexpected("a value")
		}
		// A value is complete: close containers until one wants another value.
		for {
			if len(d.stack) == 0 {
				return nil
			}
			open := d.stack[len(d.stack)-1]
			c, ok := d.nonSpace()
			if ok && c == ',' {
				d.pos++
				if open == '{' {
					if err := d.skipKey(); err != nil {
						return err
					}
				}
				break
			}
			if ok && ((open == '{' && c == '}') || (open == '[' && c == ']')) {
				d.pos++
				d.stack = d.stack[:len(d.stack)-1]
				continue
			}
			if open == '{' {
				return d.unexpected("',' or '}'")
			}
			return d.unexpected("',' or ']'")
		}
	}
}

// skipKey reads an object key, known to start at the next non-space byte,
// and the ':' after it.
func (d *RegionDecoder) skipKey() error {
	if c, ok := d.nonSpace(); !ok || c != '"' {
		return d.unexpected("a key")
	}
	d.pos++
	if err := d.skipString(); err != nil {
		return err
	}
	if c, ok := d.nonSpace(); !ok || c != ':' {
		return d.unexpected("':' after a key")
	}
	d.pos++
	return nil
}

// skipString reads and checks a string whose opening quote has been
// consumed, keeping none of it.
func (d *RegionDecoder) skipString() error {
	for {
		for d.pos < d.end {
			c := d.buf[d.pos]
			switch {
			case c == '"':
				d.pos++
				return nil
			case c == '\\':
				d.pos++
				if err := d.skipEscape(); err != nil {
					return err
				}
				continue
			case c < ' ':
				return d.unexpected("a string character (control characters must be escaped)")
			}
			d.pos++
		}
		if !d.fill() {
			return d.unexpected("the rest of a string")
		}
	}
}

func (d *RegionDecoder) skipEscape() error {
	c, ok := d.peek()
	switch {
	case !ok:
		return d.unexpected("an escape character after '\\'")
	case c == 'u':
		d.pos++
		for range 4 {
			c, ok := d.peek()
			if _, hex := hexValue(c); !ok || !hex {
				return d.unexpected(`a hex digit after "\u"`)
			}
			d.pos++
		}
		return nil
	case c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't':
		d.pos++
		return nil
	}
	return d.unexpected("an escape character after '\\'")
}

// literal consumes word (true, false or null).
func (d *RegionDecoder) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if c, ok := d.peek(); !ok || c != word[i] {
			return d.unexpected(strconv.Quote(word))
		}
		d.pos++
	}
	return nil
}

// offset is the input offset of the next unread byte.
func (d *RegionDecoder) offset() int64 { return d.base + int64(d.pos) }

// peek returns the next unread byte, refilling the buffer as needed; it
// reports false at the end of input or on a read error.
func (d *RegionDecoder) peek() (byte, bool) {
	if d.pos < d.end {
		return d.buf[d.pos], true
	}
	if !d.fill() {
		return 0, false
	}
	return d.buf[d.pos], true
}

// nonSpace skips JSON whitespace and returns the next byte, as peek does.
func (d *RegionDecoder) nonSpace() (byte, bool) {
	for {
		for d.pos < d.end {
			c := d.buf[d.pos]
			if c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				return c, true
			}
			d.pos++
		}
		if !d.fill() {
			return 0, false
		}
	}
}

// fill reads more input once the buffer is used up; it reports false at the
// end of input or on a read error, which it keeps in d.rerr.
func (d *RegionDecoder) fill() bool {
	if d.rerr != nil {
		return false
	}
	d.base += int64(d.end)
	d.pos, d.end = 0, 0
	// Like bufio, give up on a reader that keeps returning nothing.
	for range 100 {
		n, err := d.r.Read(d.buf)
		if n < 0 || n > len(d.buf) {
			d.rerr = fmt.Errorf("pdclient: reader returned %d bytes for a %d-byte buffer", n, len(d.buf))
			return false
		}
		d.end = n
		if err != nil {
			d.rerr = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	d.rerr = io.ErrNoProgress
	return false
}

// unexpected reports that the input at the current position is not what
// was expected.
func (d *RegionDecoder) unexpected(expected string) error {
	e := &DecodeError{Offset: d.offset(), Expected: expected}
	switch {
	case d.pos < d.end:
		e.Found = describe(d.buf[d.pos])
	case d.rerr == nil || errors.Is(d.rerr, io.EOF):
		e.Found, e.Err = "end of input", io.ErrUnexpectedEOF
	default:
		e.Found, e.Err = "a read error", d.rerr
	}
	return e
}

// describe names what a JSON value starting with c is.
func describe(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || ('0' <= c && c <= '9'):
		return "a number"
	case ' ' < c && c < utf8.RuneSelf:
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02X", c)
}
