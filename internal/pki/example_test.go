package pki_test

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/gleaner/gleaner/internal/pki"
)

func ExampleCA_Issue() {
	ca, err := pki.NewCA("example CA", time.Hour)
	if err != nil {
		panic(err)
	}
	pair, err := ca.Issue(pki.Request{CommonName: "master/m1", Hosts: []string{"127.0.0.1"}, Usage: pki.Server})
	if err != nil {
		panic(err)
	}
	_, err = pair.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1"})
	fmt.Println(pair.Cert.Subject.CommonName, err == nil)
	// Output: master/m1 true
}
