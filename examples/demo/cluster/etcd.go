//go:build linux

package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/gleaner/gleaner/internal/etcdauth"
	"github.com/gleaner/gleaner/internal/pki"
)

// etcdStartTimeout bounds how long the embedded etcd may take to be ready.
const etcdStartTimeout = 30 * time.Second

// startEtcd starts a single-member etcd with its data in dir, listening on
// loopback ports picked free, and logging errors only to dir/etcd.log. With
// sec it serves TLS and takes only clients of sec's CA; it returns the root
// user's files then, to turn authentication on with.
func startEtcd(dir string, sec *security) (*embed.Etcd, string, pki.Files, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", pki.Files{}, fmt.Errorf("cluster: %w", err)
	}
	var server, root pki.Files
	if sec != nil {
		var err error
		if server, root, err = sec.etcdServer([]string{"127.0.0.1"}); err != nil {
			return nil, "", pki.Files{}, err
		}
	}
	var errs []error
	// A port picked free may be taken before etcd binds it; pick again.
	for range 5 {
		client, peer, err := freeURL(), freeURL(), error(nil)
		if client.Host == "" || peer.Host == "" {
			return nil, "", pki.Files{}, errors.New("cluster: no free loopback port for etcd")
		}
		cfg := embed.NewConfig()
		cfg.Name = "demo"
		cfg.Dir = filepath.Join(dir, "data")
		cfg.ListenClientUrls = []url.URL{client}
		cfg.AdvertiseClientUrls = []url.URL{client}
		cfg.ListenPeerUrls = []url.URL{peer}
		cfg.AdvertisePeerUrls = []url.URL{peer}
		cfg.InitialCluster = cfg.Name + "=" + peer.String()
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
		if sec != nil {
			etcdauth.ServeTLS(cfg, server)
			client.Scheme = "https"
		}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		select {
		case <-e.Server.ReadyNotify():
			return e, client.String(), root, nil
		case err := <-e.Err():
			e.Close()
			errs = append(errs, err)
		case <-time.After(etcdStartTimeout):
			e.Close()
			return nil, "", pki.Files{}, fmt.Errorf("cluster: embedded etcd not ready after %v", etcdStartTimeout)
		}
	}
	return nil, "", pki.Files{}, fmt.Errorf("cluster: starting embedded etcd in %s: %w", dir, errors.Join(errs...))
}

func freeURL() url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}
