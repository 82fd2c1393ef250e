// Package pkitest gives tests one certificate authority shared by the whole
// test process, and writes the PEM files of certificates it issues into the
// test's temporary directory.
//
//	files := pkitest.Write(t, pkitest.Issue(t, pki.Request{CommonName: "root", Usage: pki.Client}))
//
// Sharing the CA keeps tests short and fast (a server and its clients trust
// each other without plumbing); a test about a foreign CA makes its own with
// pki.NewCA.
package pkitest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/pki"
)

var (
	once   sync.Once
	shared *pki.CA
	errCA  error
)

// CA returns the test process's CA, valid for a day.
func CA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := Shared()
	if err != nil {
		t.Fatalf("pkitest: %v", err)
	}
	return ca
}

// Issue issues req from the test CA.
func Issue(t testing.TB, req pki.Request) pki.Pair {
	t.Helper()
	pair, err := CA(t).Issue(req)
	if err != nil {
		t.Fatalf("pkitest: %v", err)
	}
	return pair
}

// Write writes the test CA's certificate and pair into a new directory
// under t.TempDir and returns their names.
func Write(t testing.TB, pair pki.Pair) pki.Files {
	t.Helper()
	return WriteWith(t, CA(t), pair)
}

// WriteWith is Write for a pair of another CA.
func WriteWith(t testing.TB, ca *pki.CA, pair pki.Pair) pki.Files {
	t.Helper()
	dir, err := os.MkdirTemp(t.TempDir(), "tls-")
	if err != nil {
		t.Fatalf("pkitest: %v", err)
	}
	f := pki.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	for name, data := range map[string][]byte{f.CA: ca.CertPEM(), f.Cert: pair.CertPEM, f.Key: pair.KeyPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatalf("pkitest: %v", err)
		}
	}
	return f
}

// Shared returns the test process's CA, for helpers that report errors
// rather than fail a test.
func Shared() (*pki.CA, error) {
	once.Do(func() { shared, errCA = pki.NewCA("gleaner test CA", 24*time.Hour) })
	return shared, errCA
}
