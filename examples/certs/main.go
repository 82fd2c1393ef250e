// Command certs makes the certificates and tokens of a Gleaner cluster: a
// CA, then a certificate for each master, agent (its ID in the
// certificate), framework principal, operator and etcd server, each with
// an expiry; bearer tokens for frameworks and operators; and etcd's users
// and roles.
//
//	certs ca -dir pki                                      pki/ca.pem, pki/ca-key.pem
//	certs issue -dir pki -principal master/m1 -hosts 10.0.0.1,master1.example
//	certs issue -dir pki -principal agent/node7 -hosts 10.0.0.7 -validity 720h
//	certs issue -dir pki -principal framework/marathon -hosts 10.0.0.2
//	certs issue -dir pki -principal operator/alice         client-only
//	certs issue -dir pki -etcd-server -hosts 10.0.0.1      etcd's serving certificate
//	certs issue -dir pki -etcd-root                        etcd's root user (common name root)
//	certs token -principal framework/batch -tokens tokens.json   prints the token, adds its hash
//	certs show pki/agent-node7.pem
//	certs etcd-auth -endpoints https://10.0.0.1:2379 -ca pki/ca.pem -cert pki/etcd-root.pem \
//	    -key pki/etcd-root-key.pem -principals master/m1,agent/node7,operator/alice
//
// issue writes <dir>/<kind>-<name>.pem and <dir>/<kind>-<name>-key.pem
// (mode 0600) signed by <dir>/ca.pem and <dir>/ca-key.pem; each program
// then takes -ca <dir>/ca.pem -cert ... -key .... Certificates are read
// again when their files change, so renewing one is running issue again.
// etcd-auth turns on etcd's authentication and gives each principal an
// etcd user limited to its key prefixes (an agent its own attributes and
// liveness, a master its state and election, an operator everything).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/internal/atomicfile"
	"github.com/gleaner/gleaner/internal/etcdauth"
	"github.com/gleaner/gleaner/internal/pki"
)

const usage = `usage: certs <command> [flags]

commands:
  ca         make a CA in -dir
  issue      issue a certificate signed by the CA in -dir
  token      make a bearer token for a framework or operator principal
  show       print what certificate files hold
  etcd-auth  turn on etcd's authentication and give principals their roles

Run "certs <command> -help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, *flag.FlagSet, []string, io.Writer) error{
		"ca": caCmd, "issue": issueCmd, "token": tokenCmd, "show": showCmd, "etcd-auth": etcdAuthCmd,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "certs: unknown command %q\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("certs "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	err := cmd(ctx, fs, args[1:], stdout)
	var ue usageErr
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 2
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "certs %s: %v\n", args[0], err)
		fs.Usage()
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "certs %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func usageError(format string, args ...any) error { return usageErr{fmt.Sprintf(format, args...)} }

// parse parses flags and refuses positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func caFiles(dir string) (cert, key string) {
	return filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
}

func caCmd(_ context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	dir := fs.String("dir", ".", "directory for ca.pem and ca-key.pem")
	name := fs.String("name", "gleaner CA", "the CA's common name")
	validity := fs.Duration("validity", 10*365*24*time.Hour, "how long the CA is valid")
	force := fs.Bool("force", false, "replace an existing CA (every certificate it signed stops being trusted)")
	if err := parse(fs, args); err != nil {
		return err
	}
	certFile, keyFile := caFiles(*dir)
	if _, err := os.Stat(certFile); err == nil && !*force {
		return fmt.Errorf("%s exists; -force replaces it", certFile)
	}
	ca, err := pki.NewCA(*name, *validity)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(keyFile, ca.KeyPEM(), 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(certFile, ca.CertPEM(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n%s (keep it private)\nvalid until %s\n", certFile, keyFile, ca.Certificate().NotAfter.Format(time.RFC3339))
	return nil
}

func loadCA(dir string) (*pki.CA, error) {
	certFile, keyFile := caFiles(dir)
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("CA: %w (make one with certs ca -dir %s)", err, dir)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	return pki.ParseCA(certPEM, keyPEM)
}

func issueCmd(_ context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	dir := fs.String("dir", ".", "directory of the CA; the certificate is written there")
	principal := fs.String("principal", "", "kind/name: master/<id>, agent/<agent-id>, framework/<name> or operator/<name>")
	etcdServer := fs.Bool("etcd-server", false, "an etcd server's certificate (no principal) instead")
	etcdRoot := fs.Bool("etcd-root", false, "etcd's root user's client certificate instead")
	hosts := fs.String("hosts", "", "comma-separated DNS names and IP addresses the party serves at")
	validity := fs.Duration("validity", pki.DefaultValidity, "how long the certificate is valid")
	if err := parse(fs, args); err != nil {
		return err
	}
	chosen := 0
	for _, b := range []bool{*principal != "", *etcdServer, *etcdRoot} {
		if b {
			chosen++
		}
	}
	if chosen != 1 {
		return usageError("give exactly one of -principal, -etcd-server and -etcd-root")
	}
	ca, err := loadCA(*dir)
	if err != nil {
		return err
	}
	var req pki.Request
	var name string
	switch {
	case *etcdServer:
		req, name = pki.Request{CommonName: "etcd", Hosts: split(*hosts), Usage: pki.ServerAndClient, Validity: *validity}, "etcd-server"
		if len(req.Hosts) == 0 {
			return usageError("-etcd-server needs -hosts")
		}
	case *etcdRoot:
		req, name = pki.Request{CommonName: etcdauth.RootUser, Usage: pki.Client, Validity: *validity}, "etcd-root"
	default:
		p, err := auth.ParsePrincipal(*principal)
		if err != nil {
			return err
		}
		if req, err = auth.CertRequest(p, split(*hosts), *validity); err != nil {
			return err
		}
		name = string(p.Kind) + "-" + p.Name
	}
	pair, err := ca.Issue(req)
	if err != nil {
		return err
	}
	files, err := auth.WriteIdentity(*dir, name, ca, pair)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "-ca %s -cert %s -key %s\nvalid until %s\n", files.CA, files.Cert, files.Key, pair.Cert.NotAfter.Format(time.RFC3339))
	return nil
}

func tokenCmd(_ context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	principal := fs.String("principal", "", "framework/<name> or operator/<name>")
	file := fs.String("tokens", "", "token file to add the token's hash to (created if missing)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError("-tokens is required")
	}
	p, err := auth.ParsePrincipal(*principal)
	if err != nil {
		return err
	}
	var tf auth.TokenFile
	if data, err := os.ReadFile(*file); err == nil {
		if _, err := auth.LoadTokens(*file); err != nil {
			return err
		}
		if err := json.Unmarshal(data, &tf); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	token, entry, err := auth.NewToken(p)
	if err != nil {
		return err
	}
	tf.Tokens = append(tf.Tokens, entry)
	data, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*file, append(data, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Fprintln(out, token)
	return nil
}

func showCmd(_ context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() == 0 {
		return usageError("want certificate files")
	}
	for _, name := range fs.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		cert, err := pki.ParseCertificate(data)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		who := "no principal"
		if p, err := auth.PrincipalOf(cert); err == nil {
			who = p.String()
		}
		var hosts []string
		hosts = append(hosts, cert.DNSNames...)
		for _, ip := range cert.IPAddresses {
			hosts = append(hosts, ip.String())
		}
		state := "valid"
		switch now := time.Now(); {
		case cert.IsCA:
			state = "CA"
		case now.After(cert.NotAfter):
			state = "EXPIRED"
		case now.Before(cert.NotBefore):
			state = "not yet valid"
		}
		fmt.Fprintf(out, "%s\tcommon name %q\t%s\thosts %s\tuntil %s\t%s\n", name, cert.Subject.CommonName, who,
			strings.Join(hosts, ","), cert.NotAfter.Format(time.RFC3339), state)
	}
	return nil
}

func etcdAuthCmd(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	endpoints := fs.String("endpoints", "https://127.0.0.1:2379", "comma-separated etcd endpoints")
	prefix := fs.String("prefix", attrs.DefaultPrefix, "the cluster's key prefix")
	principals := fs.String("principals", "", "comma-separated principals to give etcd users (kind/name)")
	var files pki.Files
	fs.StringVar(&files.CA, "ca", "", "PEM file of the CA")
	fs.StringVar(&files.Cert, "cert", "", "etcd root user's certificate (certs issue -etcd-root)")
	fs.StringVar(&files.Key, "key", "", "its key")
	if err := parse(fs, args); err != nil {
		return err
	}
	var ps []auth.Principal
	for _, s := range split(*principals) {
		p, err := auth.ParsePrincipal(s)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	tl, err := auth.LoadTLS(files)
	if err != nil {
		return err
	}
	cli, err := auth.NewEtcdClient(split(*endpoints), tl)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := etcdauth.EnableAuth(ctx, cli); err != nil {
		return err
	}
	if err := auth.ProvisionEtcd(ctx, cli, *prefix, ps...); err != nil {
		return err
	}
	for _, p := range ps {
		read, rw := auth.EtcdPrefixes(*prefix, p)
		fmt.Fprintf(out, "%s\tread %s\tread-write %s\n", auth.EtcdUser(p), orNone(read), orNone(rw))
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
