// Package pki mints the certificates of a Gleaner cluster with Go's
// crypto/x509, no outside tool: a certificate authority and the leaf
// certificates it signs for servers and clients, as PEM.
//
//	ca, err := pki.NewCA("gleaner demo CA", 24*time.Hour)
//	pair, err := ca.Issue(pki.Request{CommonName: "agent/a1",
//		URIs: []*url.URL{u}, Hosts: []string{"127.0.0.1"}, Usage: pki.ServerAndClient})
//	os.WriteFile("a1.pem", pair.CertPEM, 0o644)
//
// Keys are ECDSA P-256: every TLS 1.3 stack (Go, OpenSSL's curl, browsers)
// takes them, and they sign fast. The package writes no files; callers
// decide where PEM goes and with which permissions (keys 0600).
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// ErrInvalid reports a bad request or unreadable PEM; the error names the
// field or block at fault.
var ErrInvalid = errors.New("pki: invalid")

// DefaultValidity is how long a leaf certificate is valid when a Request
// does not say.
const DefaultValidity = 90 * 24 * time.Hour

// clockSkew is how far into the past a certificate's validity starts by
// default, so that a machine whose clock is a little behind accepts it.
const clockSkew = time.Minute

// Usage says what a leaf certificate may authenticate.
type Usage int

// Usages of a leaf certificate.
const (
	Server          Usage = 1 << iota // a TLS server (ExtKeyUsageServerAuth)
	Client                            // a TLS client (ExtKeyUsageClientAuth)
	ServerAndClient = Server | Client
)

// CA is a certificate authority: its certificate and signing key.
type CA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// NewCA makes a self-signed CA named commonName, valid for validity from a
// minute ago.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	if commonName == "" {
		return nil, fmt.Errorf("%w: CA common name is empty", ErrInvalid)
	}
	if validity <= 0 {
		return nil, fmt.Errorf("%w: CA validity %v: must be positive", ErrInvalid, validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs leaves only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return ParseCA(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM)
}

// ParseCA reads a CA from its certificate and private key in PEM, as NewCA
// made them (or as written by CertPEM and KeyPEM).
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: CA certificate %q is not a CA (basic constraints)", ErrInvalid, cert.Subject.CommonName)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%w: CA key does not match the certificate of %q", ErrInvalid, cert.Subject.CommonName)
	}
	return &CA{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// Certificate returns the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA's certificate in PEM: the file every party trusts.
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// KeyPEM returns the CA's private key in PEM, for the operator who issues
// more certificates later; it belongs in a file only they can read.
func (ca *CA) KeyPEM() []byte { return ca.keyPEM }

// Pool returns a pool holding the CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Request describes a leaf certificate to issue.
type Request struct {
	// CommonName is the subject's common name. etcd takes it as the user
	// name of a client that authenticates with the certificate.
	CommonName string
	// URIs are URI subject alternative names (Gleaner puts the principal
	// there, spiffe://gleaner/<kind>/<name>).
	URIs []*url.URL
	// Hosts are the DNS names and IP addresses a server is reached at.
	Hosts []string
	// Usage is Server, Client or both (default both).
	Usage Usage
	// NotBefore starts the validity (default: a minute ago); Validity is
	// its length (default DefaultValidity).
	NotBefore time.Time
	Validity  time.Duration
}

// Files names the PEM files of one party's TLS identity: the CA it trusts,
// its certificate and its private key.
type Files struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// Pair is an issued certificate with its private key.
type Pair struct {
	Cert    *x509.Certificate
	CertPEM []byte // the leaf certificate
	KeyPEM  []byte // its private key (PKCS #8)
}

// Issue signs a new key pair for req.
func (ca *CA) Issue(req Request) (Pair, error) {
	if req.CommonName == "" && len(req.URIs) == 0 && len(req.Hosts) == 0 {
		return Pair{}, fmt.Errorf("%w: request names no subject: give CommonName, URIs or Hosts", ErrInvalid)
	}
	if req.Validity < 0 {
		return Pair{}, fmt.Errorf("%w: Validity %v is negative", ErrInvalid, req.Validity)
	}
	if req.Usage&^ServerAndClient != 0 {
		return Pair{}, fmt.Errorf("%w: Usage %d: want Server, Client or both", ErrInvalid, req.Usage)
	}
	if req.Validity == 0 {
		req.Validity = DefaultValidity
	}
	if req.Usage == 0 {
		req.Usage = ServerAndClient
	}
	if req.NotBefore.IsZero() {
		req.NotBefore = time.Now().Add(-clockSkew)
	}
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: req.CommonName},
		NotBefore: req.NotBefore,
		NotAfter:  req.NotBefore.Add(req.Validity),
		KeyUsage:  x509.KeyUsageDigitalSignature,
		URIs:      req.URIs,
	}
	for i, h := range req.Hosts {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			return Pair{}, fmt.Errorf("%w: Hosts[%d] is empty", ErrInvalid, i)
		case net.ParseIP(h) != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(h))
		default:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if req.Usage&Server != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if req.Usage&Client != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter // a leaf outliving its CA would fail verification anyway
	}
	var err error
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return Pair{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("pki: key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return Pair{}, fmt.Errorf("pki: certificate for %q: %w", req.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Pair{}, fmt.Errorf("pki: certificate for %q: %w", req.CommonName, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

// ParseCertificate reads the first certificate of a PEM file.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%w: no CERTIFICATE block in PEM", ErrInvalid)
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: CERTIFICATE block: %w", ErrInvalid, err)
		}
		return cert, nil
	}
}

func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%w: no PRIVATE KEY block in PEM", ErrInvalid)
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s block: %w", ErrInvalid, b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %s block: key of type %T cannot sign", ErrInvalid, b.Type, k)
		}
		return s, nil
	}
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// newSerial returns a random 128-bit serial number, as RFC 5280 advises.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}
