package auth

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/gleaner/gleaner/internal/atomicfile"
	"github.com/gleaner/gleaner/internal/pki"
)

// CertRequest is the certificate request of a principal: common name
// p.String() (its etcd user), URI p.URI(), and hosts (DNS names and IP
// addresses) for a principal that serves. An operator's certificate
// authenticates a client only; the others' also a server, since masters,
// agents and frameworks serve HTTP and are clients of each other and of
// etcd.
func CertRequest(p Principal, hosts []string, validity time.Duration) (pki.Request, error) {
	if err := p.Validate(); err != nil {
		return pki.Request{}, err
	}
	usage := pki.ServerAndClient
	if p.Kind == KindOperator {
		usage = pki.Client
	}
	return pki.Request{CommonName: p.String(), URIs: []*url.URL{p.URI()}, Hosts: hosts, Usage: usage, Validity: validity}, nil
}

// Issue signs a certificate for p with ca; see CertRequest.
func Issue(ca *pki.CA, p Principal, hosts []string, validity time.Duration) (pki.Pair, error) {
	req, err := CertRequest(p, hosts, validity)
	if err != nil {
		return pki.Pair{}, err
	}
	return ca.Issue(req)
}

// WriteIdentity writes ca's certificate to dir/ca.pem and pair to
// dir/<name>.pem and dir/<name>-key.pem (mode 0600), each atomically, and
// returns the files' names. The key is written first: a reader that sees
// the new certificate finds its key.
func WriteIdentity(dir, name string, ca *pki.CA, pair pki.Pair) (pki.Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return pki.Files{}, fmt.Errorf("auth: %w", err)
	}
	f := pki.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem")}
	for _, w := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{f.Key, pair.KeyPEM, 0o600}, {f.Cert, pair.CertPEM, 0o644}, {f.CA, ca.CertPEM(), 0o644}} {
		if err := atomicfile.WriteFile(w.path, w.data, w.perm); err != nil {
			return pki.Files{}, err
		}
	}
	return f, nil
}
