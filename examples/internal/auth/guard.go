package auth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// Guard is the HTTP middleware in front of every server of the examples.
// For each request it
//
//  1. refuses a Host header that is not a name of the server (421), so a
//     web page cannot reach a server on loopback by DNS rebinding: IP
//     literals, "localhost", Hosts and the DNS names of the server's
//     certificate are its names;
//  2. finds the principal: the one named by the verified client
//     certificate, else the one of the bearer token ("Authorization:
//     Bearer <token>"), and puts it in the request's context
//     (PrincipalFrom);
//  3. refuses a request with neither (401), unless its path is Public.
//
// What the principal may do is the handler's business (Policy.Allow).
// With Insecure (a server started with -insecure, plaintext) every
// request is Anonymous and none is refused for want of a credential; the
// Host check still applies.
type Guard struct {
	// TLS is the server's identity, whose certificate's DNS names are
	// names of the server; nil only with Insecure.
	TLS *TLS
	// Insecure says the server speaks plaintext and authenticates nobody.
	Insecure bool
	// Tokens are the bearer tokens accepted (nil: none).
	Tokens *Tokens
	// Hosts are more names the server is reached at.
	Hosts []string
	// Public are paths served without a credential (health checks).
	Public []string
}

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.checkHost(r.Host); err != nil {
			WriteError(w, err)
			return
		}
		p, err := g.Authenticate(r)
		if err != nil && !(errors.Is(err, ErrUnauthenticated) && slices.Contains(g.Public, r.URL.Path)) {
			WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// Authenticate returns the request's principal, or an error matching
// ErrUnauthenticated.
func (g *Guard) Authenticate(r *http.Request) (Principal, error) {
	if g.Insecure {
		return Anonymous, nil
	}
	if g.TLS == nil || r.TLS == nil {
		return Anonymous, fmt.Errorf("%w: the request did not come over TLS", ErrUnauthenticated)
	}
	if p, ok, err := PeerPrincipal(r.TLS); err != nil {
		return Anonymous, fmt.Errorf("%w: client certificate: %w", ErrUnauthenticated, err)
	} else if ok {
		return p, nil
	}
	token, ok := bearer(r)
	if !ok {
		return Anonymous, fmt.Errorf("%w: present a client certificate of the cluster's CA or a bearer token", ErrUnauthenticated)
	}
	if p, ok := g.Tokens.Lookup(token); ok {
		return p, nil
	}
	return Anonymous, fmt.Errorf("%w: unknown bearer token", ErrUnauthenticated)
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// errMisdirected is a request whose Host is not a name of the server.
type errMisdirected struct{ host string }

func (e errMisdirected) Error() string {
	return fmt.Sprintf("auth: Host %q is not a name of this server", e.host)
}

func (g *Guard) checkHost(hostport string) error {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(strings.Trim(host, "[]")) != nil || host == "localhost" || slices.Contains(g.Hosts, host) {
		return nil
	}
	if g.TLS != nil {
		if leaf := g.TLS.Certificate(); leaf != nil && slices.Contains(leaf.DNSNames, host) {
			return nil
		}
	}
	return errMisdirected{host: hostport}
}

// Status returns the HTTP status of an error of this package: 401 for
// ErrUnauthenticated, 403 for ErrDenied, 421 for a foreign Host, else 0.
func Status(err error) int {
	var mis errMisdirected
	switch {
	case errors.As(err, &mis):
		return http.StatusMisdirectedRequest
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, ErrDenied):
		return http.StatusForbidden
	}
	return 0
}

// WriteError answers an error of this package with its Status and an
// api.ErrorResponse naming what is missing; other errors are a 500.
func WriteError(w http.ResponseWriter, err error) {
	code := Status(err)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gleaner"`)
	}
	api.WriteJSON(w, code, api.ErrorResponse{Error: err.Error()})
}
