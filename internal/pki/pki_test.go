package pki

import (
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestIssuedCertificateVerifiesAgainstTheCA(t *testing.T) {
	ca, err := NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://gleaner/agent/a1")
	pair, err := ca.Issue(Request{CommonName: "agent/a1", URIs: []*url.URL{u}, Hosts: []string{"127.0.0.1", "node1.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := pair.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "node1.example", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Fatalf("usage %v: %v", usage, err)
		}
	}
	if err := pair.Cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if pair.Cert.Subject.CommonName != "agent/a1" || len(pair.Cert.URIs) != 1 || pair.Cert.URIs[0].String() != u.String() {
		t.Fatalf("subject %q URIs %v", pair.Cert.Subject.CommonName, pair.Cert.URIs)
	}
	if _, err := ParseCA(ca.CertPEM(), ca.KeyPEM()); err != nil {
		t.Fatalf("CA does not read back: %v", err)
	}
}

func TestClientOnlyCertificateIsNoServer(t *testing.T) {
	ca, _ := NewCA("test CA", time.Hour)
	pair, err := ca.Issue(Request{CommonName: "operator/ops", Usage: Client})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pair.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Fatal("a client-only certificate verified as a server's")
	}
}

func TestExpiredAndForeignCertificatesDoNotVerify(t *testing.T) {
	ca, _ := NewCA("test CA", time.Hour)
	other, _ := NewCA("other CA", time.Hour)
	expired, err := ca.Issue(Request{CommonName: "old", NotBefore: time.Now().Add(-2 * time.Hour), Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var invalid x509.CertificateInvalidError
	if _, err := expired.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool()}); !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Fatalf("expired certificate: %v", err)
	}
	foreign, _ := other.Issue(Request{CommonName: "stranger"})
	var unknown x509.UnknownAuthorityError
	if _, err := foreign.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool()}); !errors.As(err, &unknown) {
		t.Fatalf("certificate of another CA: %v", err)
	}
}

func TestBadInputIsInvalid(t *testing.T) {
	ca, _ := NewCA("test CA", time.Hour)
	other, _ := NewCA("other CA", time.Hour)
	leaf, _ := ca.Issue(Request{CommonName: "leaf"})
	tests := []struct {
		name string
		err  error
	}{
		{"empty CA name", func() error { _, err := NewCA("", time.Hour); return err }()},
		{"zero CA validity", func() error { _, err := NewCA("x", 0); return err }()},
		{"request without a subject", func() error { _, err := ca.Issue(Request{}); return err }()},
		{"negative validity", func() error { _, err := ca.Issue(Request{CommonName: "x", Validity: -time.Second}); return err }()},
		{"empty host", func() error { _, err := ca.Issue(Request{CommonName: "x", Hosts: []string{""}}); return err }()},
		{"unknown usage", func() error { _, err := ca.Issue(Request{CommonName: "x", Usage: 8}); return err }()},
		{"key of another CA", func() error { _, err := ParseCA(ca.CertPEM(), other.KeyPEM()); return err }()},
		{"leaf as CA", func() error { _, err := ParseCA(leaf.CertPEM, leaf.KeyPEM); return err }()},
		{"no PEM", func() error { _, err := ParseCertificate([]byte("hello")); return err }()},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tt.name, tt.err)
		}
	}
}

func TestLeafNeverOutlivesItsCA(t *testing.T) {
	ca, _ := NewCA("short CA", time.Hour)
	pair, err := ca.Issue(Request{CommonName: "x", Validity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if pair.Cert.NotAfter.After(ca.Certificate().NotAfter) {
		t.Fatalf("leaf valid until %v, CA until %v", pair.Cert.NotAfter, ca.Certificate().NotAfter)
	}
}
