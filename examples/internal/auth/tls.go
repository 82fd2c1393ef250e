package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gleaner/gleaner/internal/pki"
)

// TLS is one party's TLS identity, the one type every listener and client
// of the examples takes (as Nomad's TLS config is): the CA it trusts, its
// certificate and key, read from PEM files and read again when they change
// on disk, so certificates rotate without a restart.
//
// The files are looked at (one stat each) at every TLS handshake. A change
// takes effect at the next handshake: servers present the new certificate
// and trust the new CA at once; HTTP clients (Transport) too; etcd clients
// (ClientConfig) present the new certificate, and take a new CA when they
// are made again. A change that does not load (a certificate whose key is
// not written yet) keeps the previous identity and is tried again at the
// next handshake; ReloadError says why.
//
// Every configuration it makes speaks TLS 1.3 only.
type TLS struct {
	files pki.Files

	cur atomic.Pointer[identity]

	mu        sync.Mutex // serialises reloads
	stamps    []stamp    // of the files cur was read from
	reloadErr error
}

// identity is what the files held at one time.
type identity struct {
	cert      *tls.Certificate // nil for a client that authenticates by token
	leaf      *x509.Certificate
	pool      *x509.CertPool
	principal Principal // Anonymous when the certificate names none
}

// stamp identifies one version of a file.
type stamp struct {
	size    int64
	modTime time.Time
	ino     any
}

// LoadTLS reads files. files.CA is required; files.Cert and files.Key are
// both given or both empty (a client that authenticates with a bearer
// token only).
func LoadTLS(files pki.Files) (*TLS, error) {
	if files.CA == "" {
		return nil, fmt.Errorf("%w: no CA file", ErrInvalid)
	}
	if (files.Cert == "") != (files.Key == "") {
		return nil, fmt.Errorf("%w: certificate %q and key %q: give both or neither", ErrInvalid, files.Cert, files.Key)
	}
	t := &TLS{files: files}
	t.mu.Lock()
	defer t.mu.Unlock()
	id, stamps, err := t.read()
	if err != nil {
		return nil, err
	}
	t.cur.Store(id)
	t.stamps = stamps
	return t, nil
}

// TLSFromPEM returns an identity held in memory, never reloaded: the CA
// certificates, and a certificate and key (both nil for a client that
// authenticates by token). For tests and tools that mint throwaway
// identities.
func TLSFromPEM(caPEM, certPEM, keyPEM []byte) (*TLS, error) {
	id, err := parseIdentity(caPEM, certPEM, keyPEM, "in memory")
	if err != nil {
		return nil, err
	}
	t := &TLS{}
	t.cur.Store(id)
	return t, nil
}

// Files returns the files t reads.
func (t *TLS) Files() pki.Files { return t.files }

// Principal returns the principal the current certificate names, or
// Anonymous.
func (t *TLS) Principal() Principal { return t.current().principal }

// Certificate returns the current certificate, or nil.
func (t *TLS) Certificate() *x509.Certificate { return t.current().leaf }

// ReloadError returns why the files' latest change was not taken, or nil.
func (t *TLS) ReloadError() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reloadErr
}

func (t *TLS) paths() []string {
	if t.files.Cert == "" {
		return []string{t.files.CA}
	}
	return []string{t.files.CA, t.files.Cert, t.files.Key}
}

// current returns the identity, read again first if a file changed.
func (t *TLS) current() *identity {
	if t.files.CA == "" {
		return t.cur.Load() // held in memory
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	stamps := statAll(t.paths())
	if slices.EqualFunc(stamps, t.stamps, stamp.equal) {
		return t.cur.Load()
	}
	id, read, err := t.read()
	if err != nil {
		t.reloadErr = err
		return t.cur.Load()
	}
	t.cur.Store(id)
	t.stamps, t.reloadErr = read, nil
	return id
}

func (s stamp) equal(o stamp) bool {
	return s.size == o.size && s.modTime.Equal(o.modTime) && s.ino == o.ino
}

func statAll(paths []string) []stamp {
	out := make([]stamp, len(paths))
	for i, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out[i] = stamp{size: fi.Size(), modTime: fi.ModTime(), ino: inode(fi)}
		}
	}
	return out
}

// read loads the files, returning the stamps taken before reading so that
// a write during the read is noticed at the next handshake.
func (t *TLS) read() (*identity, []stamp, error) {
	stamps := statAll(t.paths())
	caPEM, err := os.ReadFile(t.files.CA)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: CA file: %w", err)
	}
	var certPEM, keyPEM []byte
	if t.files.Cert != "" {
		if certPEM, err = os.ReadFile(t.files.Cert); err != nil {
			return nil, nil, fmt.Errorf("auth: certificate file: %w", err)
		}
		if keyPEM, err = os.ReadFile(t.files.Key); err != nil {
			return nil, nil, fmt.Errorf("auth: key file: %w", err)
		}
	}
	id, err := parseIdentity(caPEM, certPEM, keyPEM, t.files.Cert)
	if err != nil {
		return nil, nil, err
	}
	return id, stamps, nil
}

// parseIdentity reads PEM; where names the certificate in errors.
func parseIdentity(caPEM, certPEM, keyPEM []byte, where string) (*identity, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: CA of %s: no PEM certificate", ErrInvalid, where)
	}
	id := &identity{pool: pool}
	if certPEM == nil && keyPEM == nil {
		return id, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate %s with its key: %w", ErrInvalid, where, err)
	}
	id.cert, id.leaf = &cert, cert.Leaf
	id.principal, err = PrincipalOf(cert.Leaf)
	if err != nil && !errors.Is(err, ErrNoPrincipal) {
		return nil, fmt.Errorf("certificate %s: %w", where, err)
	}
	return id, nil
}

// ServerConfig returns a server configuration presenting the current
// certificate and checking client certificates against the current CA as
// clientAuth says: tls.RequireAndVerifyClientCert where every client must
// hold a certificate, tls.VerifyClientCertIfGiven where a bearer token may
// stand in for it.
func (t *TLS) ServerConfig(clientAuth tls.ClientAuthType) *tls.Config {
	type built struct {
		from *identity
		cfg  *tls.Config
	}
	var cache atomic.Pointer[built]
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			id := t.current()
			if b := cache.Load(); b != nil && b.from == id {
				return b.cfg, nil
			}
			if id.cert == nil {
				return nil, fmt.Errorf("auth: %s: a server needs a certificate", t.files.CA)
			}
			cfg := &tls.Config{
				MinVersion:   tls.VersionTLS13,
				Certificates: []tls.Certificate{*id.cert},
				ClientCAs:    id.pool,
				ClientAuth:   clientAuth,
			}
			cache.Store(&built{from: id, cfg: cfg})
			return cfg, nil
		},
	}
}

// ClientConfig returns a client configuration, for clients that make their
// own connections (etcd's): it presents the current certificate at every
// handshake and trusts the CA as it is now. When expect names kinds, the
// server's certificate must name a principal of one of them.
func (t *TLS) ClientConfig(expect ...Kind) *tls.Config {
	id := t.current()
	cfg := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		RootCAs:          id.pool,
		VerifyConnection: verifyServerKind(expect),
	}
	if id.cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := t.current().cert; c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil
		}
	}
	return cfg
}

// Transport returns an HTTP transport whose every new connection trusts the
// current CA and presents the current certificate. When expect names
// kinds, the server's certificate must name a principal of one of them
// (agents and frameworks expect KindMaster: another certificate of the
// same CA does not make a master).
func (t *TLS) Transport(expect ...Kind) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = false
	tr.MaxIdleConnsPerHost = 64
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		id := t.current()
		cfg := &tls.Config{
			MinVersion:       tls.VersionTLS13,
			RootCAs:          id.pool,
			ServerName:       host,
			VerifyConnection: verifyServerKind(expect),
		}
		if id.cert != nil {
			cfg.Certificates = []tls.Certificate{*id.cert}
		}
		d := &tls.Dialer{NetDialer: dialer, Config: cfg}
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

// HTTPClient returns a client with Transport(expect...) and no overall
// timeout (calls take their deadline from their context).
func (t *TLS) HTTPClient(expect ...Kind) *http.Client {
	return &http.Client{Transport: t.Transport(expect...)}
}

// verifyServerKind checks, after the chain was verified, that the server's
// certificate names a principal of one of the kinds.
func verifyServerKind(kinds []Kind) func(tls.ConnectionState) error {
	if len(kinds) == 0 {
		return nil
	}
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("auth: server sent no certificate")
		}
		p, err := PrincipalOf(cs.PeerCertificates[0])
		if err != nil {
			return fmt.Errorf("auth: server certificate: %w", err)
		}
		if !slices.Contains(kinds, p.Kind) {
			return fmt.Errorf("%w: server %s is not a %s", ErrDenied, p, kinds[0])
		}
		return nil
	}
}

// PeerPrincipal returns the principal of the verified client certificate
// of a TLS connection, or ok false when the client presented none.
func PeerPrincipal(cs *tls.ConnectionState) (Principal, bool, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Anonymous, false, nil
	}
	p, err := PrincipalOf(cs.VerifiedChains[0][0])
	if err != nil {
		return Anonymous, false, err
	}
	return p, true, nil
}
