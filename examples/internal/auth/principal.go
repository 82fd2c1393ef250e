package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// TrustDomain is the host of every principal URI: spiffe://gleaner/<kind>/<name>.
const TrustDomain = "gleaner"

// Kind is what a principal is.
type Kind string

// Kinds of principals.
const (
	KindMaster    Kind = "master"    // a master; what agents and frameworks expect to talk to
	KindAgent     Kind = "agent"     // an agent; its name is its agent ID
	KindFramework Kind = "framework" // a framework (scheduler) principal
	KindOperator  Kind = "operator"  // a person or tool operating the cluster
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case KindMaster, KindAgent, KindFramework, KindOperator:
		return true
	}
	return false
}

// Principal is an authenticated party: its kind and its name. It is
// written "kind/name" ("agent/a1", "framework/marathon"), in ACLs, token
// files, logs, and as the common name of its certificate (etcd's user).
// The zero Principal is Anonymous.
type Principal struct {
	Kind Kind
	Name string
}

// Anonymous is the principal of a request that carries no credential: the
// only one there is on a server started insecure.
var Anonymous = Principal{}

// String returns "kind/name", or "anonymous".
func (p Principal) String() string {
	if p == Anonymous {
		return "anonymous"
	}
	return string(p.Kind) + "/" + p.Name
}

// URI is the principal as a certificate's URI subject alternative name.
func (p Principal) URI() *url.URL {
	return &url.URL{Scheme: "spiffe", Host: TrustDomain, Path: "/" + string(p.Kind) + "/" + p.Name}
}

// Validate checks the kind and the name, which must be 1 to 128 letters,
// digits, '.', '_', '-' or '@': it becomes part of an etcd key, a URI and
// an etcd user.
func (p Principal) Validate() error {
	if !p.Kind.Valid() {
		return fmt.Errorf("%w: principal kind %q: want master, agent, framework or operator", ErrInvalid, p.Kind)
	}
	if p.Name == "" || len(p.Name) > 128 {
		return fmt.Errorf("%w: principal name %q: want 1 to 128 characters", ErrInvalid, p.Name)
	}
	for _, r := range p.Name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return fmt.Errorf("%w: principal name %q: %q is not a letter, digit, '.', '_', '-' or '@'", ErrInvalid, p.Name, r)
		}
	}
	return nil
}

// ParsePrincipal reads "kind/name".
func ParsePrincipal(s string) (Principal, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok {
		return Principal{}, fmt.Errorf("%w: principal %q: want kind/name, e.g. framework/marathon", ErrInvalid, s)
	}
	p := Principal{Kind: Kind(kind), Name: name}
	if err := p.Validate(); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// PrincipalOf returns the principal a certificate names in its URI
// subject alternative name spiffe://gleaner/<kind>/<name>. A certificate
// with no such name, or with two, is refused.
func PrincipalOf(cert *x509.Certificate) (Principal, error) {
	var found []Principal
	for _, u := range cert.URIs {
		if u.Scheme != "spiffe" || u.Host != TrustDomain {
			continue
		}
		p, err := ParsePrincipal(strings.TrimPrefix(u.Path, "/"))
		if err != nil {
			return Principal{}, fmt.Errorf("certificate %q: URI %s: %w", cert.Subject.CommonName, u, err)
		}
		found = append(found, p)
	}
	switch len(found) {
	case 0:
		return Principal{}, fmt.Errorf("%w: certificate %q names no principal (URI spiffe://%s/<kind>/<name>)", ErrNoPrincipal, cert.Subject.CommonName, TrustDomain)
	case 1:
		return found[0], nil
	}
	return Principal{}, fmt.Errorf("%w: certificate %q names %d principals", ErrInvalid, cert.Subject.CommonName, len(found))
}

// ErrNoPrincipal is the error of PrincipalOf for a certificate that names
// no principal (an etcd server's, for example).
var ErrNoPrincipal = errors.New("auth: certificate names no principal")

type principalKey struct{}

// WithPrincipal returns ctx carrying the principal of a request.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the Guard found for a request, or
// Anonymous.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
