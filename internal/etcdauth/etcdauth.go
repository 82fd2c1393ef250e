// Package etcdauth secures an embedded etcd the way Gleaner runs one (the
// demo, internal/etcdtest): TLS 1.3 with client certificates on client and
// peer URLs, and etcd's own authentication, where a client certificate's
// common name is its etcd user.
//
//	etcdauth.ServeTLS(cfg, pki.Files{CA: "ca.pem", Cert: "etcd.pem", Key: "etcd-key.pem"})
//	e, _ := embed.StartEtcd(cfg)
//	// with a client whose certificate's common name is "root":
//	err := etcdauth.EnableAuth(ctx, rootClient)
//
// Which user may touch which keys is the cluster's business: the examples'
// auth package grants each component its key prefixes.
package etcdauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/gleaner/gleaner/internal/pki"
)

// RootUser is etcd's superuser; a client whose certificate's common name is
// RootUser may do anything, including granting roles.
const RootUser = "root"

// ServeTLS makes cfg serve its client and peer URLs over TLS 1.3 with the
// certificate in files, and accept only clients and peers holding a
// certificate of files.CA. It turns every http:// URL of cfg into https://.
func ServeTLS(cfg *embed.Config, files pki.Files) {
	info := transport.TLSInfo{
		CertFile:       files.Cert,
		KeyFile:        files.Key,
		TrustedCAFile:  files.CA,
		ClientCertAuth: true,
	}
	cfg.ClientTLSInfo = info
	cfg.PeerTLSInfo = info
	cfg.TlsMinVersion = "TLS1.3"
	cfg.CipherSuites = nil // TLS 1.3 suites are not configurable
	for _, urls := range []*[]url.URL{&cfg.ListenClientUrls, &cfg.AdvertiseClientUrls, &cfg.ListenPeerUrls, &cfg.AdvertisePeerUrls} {
		for i := range *urls {
			if (*urls)[i].Scheme == "http" {
				(*urls)[i].Scheme = "https"
			}
		}
	}
	cfg.InitialCluster = ""
	for _, u := range cfg.AdvertisePeerUrls {
		if cfg.InitialCluster != "" {
			cfg.InitialCluster += ","
		}
		cfg.InitialCluster += cfg.Name + "=" + u.String()
	}
}

// Hosts returns the host of every client and peer URL of cfg, for the
// server certificate's names.
func Hosts(cfg *embed.Config) []string {
	seen := map[string]bool{}
	var out []string
	for _, urls := range [][]url.URL{cfg.ListenClientUrls, cfg.AdvertiseClientUrls, cfg.ListenPeerUrls, cfg.AdvertisePeerUrls} {
		for _, u := range urls {
			if h := u.Hostname(); h != "" && !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

// EnableAuth turns on etcd's authentication with RootUser as the only
// superuser, authenticated by its certificate (it has no password). cli
// must already authenticate as RootUser by certificate, so that it keeps
// working once authentication is on. It is idempotent.
func EnableAuth(ctx context.Context, cli *clientv3.Client) error {
	if _, err := cli.UserAddWithOptions(ctx, RootUser, "", &clientv3.UserAddOptions{NoPassword: true}); err != nil && !errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		return fmt.Errorf("etcdauth: add user %s: %w", RootUser, err)
	}
	if _, err := cli.RoleAdd(ctx, RootUser); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("etcdauth: add role %s: %w", RootUser, err)
	}
	if _, err := cli.UserGrantRole(ctx, RootUser, RootUser); err != nil {
		return fmt.Errorf("etcdauth: grant role %s: %w", RootUser, err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("etcdauth: enable authentication: %w", err)
	}
	return nil
}

// Grant gives user (added without a password if missing) a role of the same
// name that may read, or read and write, each key prefix. It is idempotent;
// permissions granted before stay.
func Grant(ctx context.Context, cli *clientv3.Client, user string, read, readWrite []string) error {
	if user == "" {
		return errors.New("etcdauth: grant: empty user")
	}
	if _, err := cli.UserAddWithOptions(ctx, user, "", &clientv3.UserAddOptions{NoPassword: true}); err != nil && !errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		return fmt.Errorf("etcdauth: add user %q: %w", user, err)
	}
	if _, err := cli.RoleAdd(ctx, user); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("etcdauth: add role %q: %w", user, err)
	}
	grant := func(prefix string, perm clientv3.PermissionType) error {
		if prefix == "" {
			return fmt.Errorf("etcdauth: grant %q: empty key prefix", user)
		}
		if _, err := cli.RoleGrantPermission(ctx, user, prefix, clientv3.GetPrefixRangeEnd(prefix), perm); err != nil {
			return fmt.Errorf("etcdauth: grant %q on %q: %w", user, prefix, err)
		}
		return nil
	}
	for _, p := range read {
		if err := grant(p, clientv3.PermissionType(clientv3.PermRead)); err != nil {
			return err
		}
	}
	for _, p := range readWrite {
		if err := grant(p, clientv3.PermissionType(clientv3.PermReadWrite)); err != nil {
			return err
		}
	}
	if _, err := cli.UserGrantRole(ctx, user, user); err != nil {
		return fmt.Errorf("etcdauth: grant role %q to user %q: %w", user, user, err)
	}
	return nil
}
