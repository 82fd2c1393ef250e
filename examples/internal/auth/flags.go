package auth

import (
	"errors"
	"flag"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/gleaner/gleaner/internal/pki"
)

// Flags are the TLS flags every program of the examples takes: -ca, -cert,
// -key, and -insecure, without which a program refuses to speak plaintext.
type Flags struct {
	Files    pki.Files
	Insecure bool
}

// Register adds the flags to fs; what names the program's certificate (a
// master's, an agent's) completes their help.
func (f *Flags) Register(fs *flag.FlagSet, what string) {
	fs.StringVar(&f.Files.CA, "ca", "", "PEM file of the CA every party of the cluster trusts")
	fs.StringVar(&f.Files.Cert, "cert", "", "PEM file of "+what+"'s certificate (reloaded when it changes)")
	fs.StringVar(&f.Files.Key, "key", "", "PEM file of "+what+"'s private key")
	fs.BoolVar(&f.Insecure, "insecure", false, "speak plaintext with no authentication (never on a network you do not trust)")
}

// ErrNoTLS is the error of Load when neither TLS files nor -insecure were
// given.
var ErrNoTLS = errors.New("auth: no TLS files (-ca, -cert, -key); pass -insecure to speak plaintext")

// Load reads the files; with -insecure it returns nil and no error.
func (f *Flags) Load() (*TLS, error) {
	if f.Insecure {
		if f.Files != (pki.Files{}) {
			return nil, fmt.Errorf("%w: -insecure with -ca, -cert or -key: choose one", ErrInvalid)
		}
		return nil, nil
	}
	if f.Files == (pki.Files{}) {
		return nil, ErrNoTLS
	}
	return LoadTLS(f.Files)
}

// NewEtcdClient returns a client of the etcd endpoints that logs nothing,
// authenticating with t's certificate (whose common name is the etcd user),
// or plaintext when t is nil.
func NewEtcdClient(endpoints []string, t *TLS) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if t != nil {
		cfg.TLS = t.ClientConfig()
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("auth: etcd client of %v: %w", endpoints, err)
	}
	return cli, nil
}
