package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/kvops/operator/subject"
)

// Identities of the static bearer credentials.
const (
	roleCaller   = "caller"
	roleApprover = "approver"
	// scopeApprove is the OAuth scope an approver's token carries.
	scopeApprove = "tikv:approve"
)

// Why HTTP refuses to start.
var (
	// errExposed: an address beyond loopback without TLS or without a
	// credential.
	errExposed = fmt.Errorf("refusing to serve HTTP beyond loopback without TLS (-tls-cert, -tls-key) and a credential (-token-file, MCP_BEARER_TOKEN or -oauth-introspect): %w", subject.ErrInvalid)
	// errTLSHalf: one of -tls-cert and -tls-key without the other.
	errTLSHalf = fmt.Errorf("-tls-cert and -tls-key go together: %w", subject.ErrInvalid)
)

// httpConfig is what the HTTP side needs from the flags.
type httpConfig struct {
	addr             string
	tlsCert, tlsKey  string
	token            string // the callers' bearer token
	approverToken    string // the approver's bearer token
	sessionTimeout   time.Duration
	oauthIssuer      string
	oauthIntrospect  string
	oauthClientID    string
	oauthSecret      string
	resource         string // this server's canonical URL, the tokens' audience
	introspectClient *http.Client
}

// oauth reports whether OAuth tokens are accepted.
func (c httpConfig) oauth() bool { return c.oauthIntrospect != "" }

// needApprover reports whether approvals come from an identity other than
// the caller's.
func (c httpConfig) needApprover() bool { return c.approverToken != "" || c.oauth() }

// listen checks c and listens on its address: loopback, or TLS and a
// credential beyond it. The listener speaks TLS when a certificate is
// given.
func listen(c httpConfig) (net.Listener, error) {
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return nil, fmt.Errorf("-http %q: %v: %w", c.addr, err, subject.ErrInvalid)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errTLSHalf
	}
	if !isLoopback(host) && (c.tlsCert == "" || c.token == "" && !c.oauth()) {
		return nil, fmt.Errorf("-http %q: %w", c.addr, errExposed)
	}
	var cfg *tls.Config
	if c.tlsCert != "" {
		pair, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert, -tls-key: %v: %w", err, subject.ErrInvalid)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return ln, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpHandler serves srv over streamable HTTP at /, every protocol
// revision the SDK speaks: requests of 2026-07-28 and later (by their
// Mcp-Protocol-Version header or their _meta) go to a stateless handler,
// since that revision has no sessions and the SDK's stateful handler
// refuses it; earlier ones to a stateful handler whose idle sessions end
// after c.sessionTimeout. With an approver credential, /approvals lists
// and decides the plans awaiting approval. With OAuth, the
// protected-resource metadata is at /.well-known/oauth-protected-resource.
func httpHandler(srv *mcp.Server, ts *toolServer, c httpConfig) (http.Handler, error) {
	get := func(*http.Request) *mcp.Server { return srv }
	stateful := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{SessionTimeout: c.sessionTimeout})
	// On 2026-07-28 a request's POST is its whole life: a client cancels
	// it by closing it, and the action's wait must end with it.
	stateless := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
	var mcpH http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if modern(r) {
			stateless.ServeHTTP(w, r)
			return
		}
		stateful.ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	var opts *auth.RequireBearerTokenOptions
	if c.oauth() {
		u, err := url.Parse(c.resource)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("-resource %q is not an absolute URL: %w", c.resource, subject.ErrInvalid)
		}
		wk := "/.well-known/oauth-protected-resource" + strings.TrimSuffix(u.Path, "/")
		opts = &auth.RequireBearerTokenOptions{ResourceMetadataURL: u.Scheme + "://" + u.Host + wk}
		meta := &oauthex.ProtectedResourceMetadata{Resource: c.resource, ScopesSupported: []string{scopeApprove},
			BearerMethodsSupported: []string{"header"}, ResourceName: "kvops-operator"}
		if c.oauthIssuer != "" {
			meta.AuthorizationServers = []string{c.oauthIssuer}
		}
		mux.Handle(wk, auth.ProtectedResourceMetadataHandler(meta))
	}
	callers := verifiers(c, roleCaller)
	if callers != nil {
		mcpH = auth.RequireBearerToken(callers, opts)(mcpH)
	}
	mux.Handle("/", mcpH)
	if c.needApprover() {
		mux.Handle("/approvals", auth.RequireBearerToken(verifiers(c, roleApprover), opts)(approvalsHandler(ts.approvals)))
		mux.Handle("/approvals/", auth.RequireBearerToken(verifiers(c, roleApprover), opts)(approvalsHandler(ts.approvals)))
	}
	return mux, nil
}

// modern reports whether r speaks protocol 2026-07-28 or later, by its
// Mcp-Protocol-Version header or, for a server/discover sent before any
// version was agreed, by its _meta. The body is read (bounded) and put
// back.
func modern(r *http.Request) bool {
	const first = "2026-07-28"
	if v := r.Header.Get("Mcp-Protocol-Version"); v != "" {
		return v >= first
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
	if err != nil {
		return false
	}
	var msg struct {
		Params struct {
			Meta map[string]any `json:"_meta"`
		} `json:"params"`
	}
	if json.Unmarshal(b, &msg) != nil {
		return false
	}
	v, _ := msg.Params.Meta[mcp.MetaKeyProtocolVersion].(string)
	return v >= first
}

// verifiers returns the token verifier of role: the static bearer token
// of that role, compared in constant time, then, with OAuth, the
// authorization server's introspection (an approver's token must carry
// scopeApprove). nil when role has no credential (loopback without one).
func verifiers(c httpConfig, role string) auth.TokenVerifier {
	static := c.token
	if role == roleApprover {
		static = c.approverToken
	}
	if static == "" && !c.oauth() {
		return nil
	}
	return func(ctx context.Context, tok string, r *http.Request) (*auth.TokenInfo, error) {
		if static != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(static)) == 1 {
			return &auth.TokenInfo{UserID: role, Expiration: time.Now().Add(time.Hour)}, nil
		}
		if !c.oauth() {
			return nil, auth.ErrInvalidToken
		}
		ti, err := introspect(ctx, c, tok)
		if err != nil {
			return nil, err
		}
		if role == roleApprover && !strings.Contains(" "+strings.Join(ti.Scopes, " ")+" ", " "+scopeApprove+" ") {
			return nil, fmt.Errorf("the token lacks the %s scope: %w", scopeApprove, auth.ErrInvalidToken)
		}
		return ti, nil
	}
}

// introspect asks the authorization server about tok (RFC 7662) and
// accepts it only when it is active and issued for this server (its
// audience names c.resource, RFC 8707).
func introspect(ctx context.Context, c httpConfig, tok string) (*auth.TokenInfo, error) {
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.oauthIntrospect, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.oauthClientID != "" {
		req.SetBasicAuth(url.QueryEscape(c.oauthClientID), url.QueryEscape(c.oauthSecret))
	}
	hc := c.introspectClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token introspection: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token introspection: HTTP %d", resp.StatusCode)
	}
	var in struct {
		Active bool            `json:"active"`
		Scope  string          `json:"scope"`
		Exp    int64           `json:"exp"`
		Sub    string          `json:"sub"`
		Aud    json.RawMessage `json:"aud"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&in); err != nil {
		return nil, fmt.Errorf("token introspection: %w", err)
	}
	if !in.Active {
		return nil, fmt.Errorf("the token is not active: %w", auth.ErrInvalidToken)
	}
	var auds []string
	if json.Unmarshal(in.Aud, &auds) != nil {
		var one string
		_ = json.Unmarshal(in.Aud, &one)
		auds = []string{one}
	}
	if !oauthex.MatchesResource(auds, c.resource) {
		return nil, fmt.Errorf("the token was issued for %v, not for %s: %w", auds, c.resource, auth.ErrInvalidToken)
	}
	if in.Sub == "" {
		return nil, fmt.Errorf("the token names no subject: %w", auth.ErrInvalidToken)
	}
	ti := &auth.TokenInfo{Scopes: strings.Fields(in.Scope), UserID: in.Sub}
	if in.Exp > 0 {
		ti.Expiration = time.Unix(in.Exp, 0)
	}
	return ti, nil
}

// approvalsHandler is the approver's endpoint: GET /approvals lists the
// plans awaiting approval; POST /approvals/{id} with {"approve": true}
// approves one, with {"approve": false} declines it. The approver is the
// credential's identity, which must not be the caller's.
func approvalsHandler(a *approvals) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/approvals"), "/")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && id == "":
			_ = json.NewEncoder(w).Encode(a.pending())
		case r.Method == http.MethodPost && id != "":
			var body struct {
				Approve *bool `json:"approve"`
			}
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil || body.Approve == nil {
				http.Error(w, `{"error":"want {\"approve\": true} or {\"approve\": false}"}`, http.StatusBadRequest)
				return
			}
			who := ""
			if ti := auth.TokenInfoFromContext(r.Context()); ti != nil {
				who = ti.UserID
			}
			ap, err := a.decide(id, who, *body.Approve)
			if err != nil {
				status := http.StatusConflict
				switch {
				case errors.Is(err, errTokenUnknown):
					status = http.StatusNotFound
				case errors.Is(err, errSameIdentity):
					status = http.StatusForbidden
				}
				w.WriteHeader(status)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
				return
			}
			_ = json.NewEncoder(w).Encode(ap)
		default:
			http.Error(w, `{"error":"GET /approvals or POST /approvals/{id}"}`, http.StatusMethodNotAllowed)
		}
	})
}
