package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kvops/operator/logparse"
)

// RedactConfig configures Redact. The zero value redacts what Redact
// finds on its own.
type RedactConfig struct {
	// Hosts are host names to replace wherever they appear, besides
	// those Redact learns from the addresses it reads (the header's, the
	// stores', the members').
	Hosts []string
}

// addressKeys are the JSON keys (and log fields) whose values are
// addresses or lists of URLs: PD's stores and members, and TiKV's and
// PD's log fields.
var addressKeys = map[string]bool{
	"address": true, "status_address": true, "peer_address": true,
	"client_urls": true, "peer_urls": true, "advertise_client_urls": true, "advertise_peer_urls": true,
	"instance": true, "store-address": true, "addr": true, "endpoint": true, "endpoints": true,
	"url": true, "target": true, "host": true,
}

var (
	urlRE     = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>\\]+`)
	ipv4RE    = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	ipv6RE    = regexp.MustCompile(`\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]`)
	secretKey = regexp.MustCompile(`(?i)^(authorization|password|passwd|token|access_token|secret|api[_-]?key|.*[_-](password|token|secret))$`)
	authRE    = regexp.MustCompile(`(?i)\b(bearer|basic|digest|negotiate)\s+[A-Za-z0-9._~+/=-]{6,}`)
	secretRE  = regexp.MustCompile(`(?i)\b(authorization|proxy-authorization|password|passwd|pwd|token|access_token|secret|api[_-]?key)(\\?["']?\s*[:=]\s*\\?["']?\s*)([^\s"'&,;\\]+)`)
)

// Redact writes the recording r to w with its addresses replaced by
// placeholders and its secrets removed, and Header.Redacted set. The same
// host becomes the same placeholder everywhere ("host-1", ports kept), so
// that a store's status address still names its series' instance and
// its members still tell the leader apart. Replaced: the header's PD and
// Prometheus addresses; in PD's answers, every address field (a store's
// address, status_address and peer_address, a member's client and peer
// URLs) and any URL, IP address or host already seen in any other string;
// the same in error texts, series labels, and log lines (whose address
// fields are redacted as such). Userinfo in URLs, and the values after
// Authorization, password, token, secret and api-key, are dropped.
//
// Regions are passed as they are: PD's region objects name stores by id
// and hold no address. Redact holds one line in memory.
func Redact(w io.Writer, r *Reader, cfg RedactConfig) error {
	rd := &redactor{hosts: map[string]string{}}
	for _, h := range cfg.Hosts {
		rd.host(h)
	}
	h := r.Header()
	h.PD = rd.addrList(h.PD)
	h.Prometheus = rd.addrList(h.Prometheus)
	for i, q := range h.Queries {
		h.Queries[i] = rd.text(q)
	}
	for k, v := range h.Labels {
		h.Labels[k] = rd.text(v)
	}
	h.Redacted = true
	rw, err := NewWriter(w, h)
	if err != nil {
		return err
	}
	var end *End
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch {
		case e.End != nil:
			end = e.End
			continue
		case e.PD != nil:
			if err := rd.pd(e.PD); err != nil {
				return err
			}
		case e.Series != nil:
			for k, v := range e.Series.Labels {
				if addressKeys[k] {
					e.Series.Labels[k] = rd.addr(v)
				} else {
					e.Series.Labels[k] = rd.text(v)
				}
			}
		case e.Log != nil:
			e.Log.Source = rd.text(e.Log.Source)
			e.Log.Line = rd.logLine(e.Log.Line)
		case e.Regions != nil:
			e.Regions.Error = rd.text(e.Regions.Error)
		}
		if err := rw.Write(e); err != nil {
			return err
		}
	}
	if end == nil {
		return ErrTruncated
	}
	return rw.Close(end.At)
}

// redactor maps hosts to placeholders.
type redactor struct {
	n     int
	hosts map[string]string
	// known matches every host learnt, longest first; nil when a host
	// was learnt since it was built.
	known *regexp.Regexp
}

// host returns h's placeholder, learning it.
func (rd *redactor) host(h string) string {
	h = strings.ToLower(strings.Trim(h, "[]"))
	if h == "" {
		return h
	}
	if p, ok := rd.hosts[h]; ok {
		return p
	}
	rd.n++
	p := "host-" + strconv.Itoa(rd.n)
	rd.hosts[h] = p
	rd.hosts[p] = p // a placeholder stays what it is
	rd.known = nil
	return p
}

// addr redacts one address: a URL, host:port, or a host.
func (rd *redactor) addr(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if strings.Contains(s, "://") {
		return rd.url(s)
	}
	if h, port, err := net.SplitHostPort(s); err == nil {
		return net.JoinHostPort(rd.host(h), port)
	}
	return rd.host(s)
}

// addrList redacts a comma-separated list of addresses.
func (rd *redactor) addrList(s string) string {
	if s == "" {
		return s
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = rd.addr(p)
	}
	return strings.Join(parts, ",")
}

// url redacts a URL: its host, its userinfo dropped, secrets in its query
// dropped.
func (rd *redactor) url(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return rd.plain(s)
	}
	u.User = nil
	if p := u.Port(); p != "" {
		u.Host = net.JoinHostPort(rd.host(u.Hostname()), p)
	} else {
		u.Host = rd.host(u.Hostname())
	}
	if u.RawQuery != "" {
		u.RawQuery = secretRE.ReplaceAllString(u.RawQuery, "${1}${2}REDACTED")
	}
	return u.String()
}

// text redacts free text: URLs, IP addresses, the hosts learnt, secrets.
func (rd *redactor) text(s string) string {
	if s == "" {
		return s
	}
	s = urlRE.ReplaceAllStringFunc(s, func(m string) string {
		trail := strings.TrimRight(m, ".,;:)]}")
		return rd.url(trail) + m[len(trail):]
	})
	return rd.plain(s)
}

// plain redacts IP addresses, the hosts learnt and secrets, not URLs.
func (rd *redactor) plain(s string) string {
	s = authRE.ReplaceAllString(s, "${1} REDACTED")
	s = secretRE.ReplaceAllString(s, "${1}${2}REDACTED")
	s = ipv6RE.ReplaceAllStringFunc(s, func(m string) string { return "[" + rd.host(m) + "]" })
	s = ipv4RE.ReplaceAllStringFunc(s, rd.host)
	if re := rd.knownRE(); re != nil {
		s = re.ReplaceAllStringFunc(s, func(m string) string { return rd.hosts[strings.ToLower(m)] })
	}
	return s
}

// knownRE matches the hosts learnt, as whole names.
func (rd *redactor) knownRE() *regexp.Regexp {
	if rd.known != nil || len(rd.hosts) == 0 {
		return rd.known
	}
	names := make([]string, 0, len(rd.hosts))
	for h, p := range rd.hosts {
		if h != p {
			names = append(names, regexp.QuoteMeta(h))
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	rd.known = regexp.MustCompile(`(?i)(?:^|\b)(?:` + strings.Join(names, "|") + `)(?:\b|$)`)
	return rd.known
}

// pd redacts one PD answer.
func (rd *redactor) pd(p *PD) error {
	p.Error = rd.text(p.Error)
	if len(p.Body) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(p.Body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("record: PD's answer to %s at %v: %w", p.Path, p.At, err)
	}
	v = rd.value(v, false)
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p.Body = b
	return nil
}

// value redacts a decoded JSON value; addr says its key names an address.
func (rd *redactor) value(v any, addr bool) any {
	switch x := v.(type) {
	case string:
		if addr {
			return rd.addrList(x)
		}
		return rd.text(x)
	case []any:
		for i := range x {
			x[i] = rd.value(x[i], addr)
		}
	case map[string]any:
		// Addresses first, so that the hosts they name are learnt before
		// the free text around them is read.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			if addressKeys[a] != addressKeys[b] {
				if addressKeys[a] {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		out := make(map[string]any, len(x))
		for _, k := range keys {
			if secretKey.MatchString(k) {
				out[rd.text(k)] = "REDACTED"
				continue
			}
			out[rd.text(k)] = rd.value(x[k], addressKeys[strings.ToLower(k)])
		}
		return out
	}
	return v
}

// logLine redacts a log line: its address fields as addresses, the rest
// as text. A line that does not parse is redacted as text.
func (rd *redactor) logLine(line string) string {
	e, err := logparse.ParseLine([]byte(line))
	if err != nil {
		return rd.text(line)
	}
	for i, f := range e.Fields {
		if addressKeys[strings.ToLower(f.Key)] {
			e.Fields[i].Value = rd.addrList(f.Value)
		}
	}
	for i, f := range e.Fields {
		e.Fields[i].Value = rd.text(f.Value)
	}
	e.Message = rd.text(e.Message)
	e.Continuation = rd.text(e.Continuation)
	return strings.TrimRight(string(logparse.Format(e)), "\n")
}
