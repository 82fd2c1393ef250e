// Command framework is Gleaner's Marathon-like framework: it runs the apps
// defined in a directory of Marathon JSON files, and those posted to its
// HTTP API, on the offers of a Gleaner master.
//
//	framework --master https://10.0.0.1:5050 --apps ./apps --listen 10.0.0.2:8080 \
//	    --ca pki/ca.pem --cert pki/framework-marathon.pem --key pki/framework-marathon-key.pem
//	curl --cacert pki/ca.pem --cert pki/operator-alice.pem --key pki/operator-alice-key.pem \
//	    -H 'Content-Type: application/json' -d @web.json https://10.0.0.2:8080/v2/apps
//	curl --cacert pki/ca.pem -H "Authorization: Bearer $TOKEN" https://10.0.0.2:8080/v2/apps/web
//
// Its certificate names its principal (framework/<name>), which the
// masters' ACL grants roles, weights and task users; the frameworks it
// subscribes are bound to it. The app API serves TLS with the same
// certificate and answers operators' certificates and the bearer tokens of
// -api-tokens; writes must be application/json and name a Host the
// framework is reached at. -insecure speaks plaintext and authenticates
// nobody.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/framework"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("framework", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg framework.Config
	masters := fs.String("master", "http://127.0.0.1:5050", "comma-separated master URLs")
	fs.StringVar(&cfg.Name, "name", framework.DefaultName, "framework name")
	fs.StringVar(&cfg.Role, "role", "*", "role whose reserved resources the framework may use")
	fs.Float64Var(&cfg.Weight, "weight", 1, "weight of the framework's fair share")
	fs.StringVar(&cfg.FrameworkID, "framework-id", "", "resume this framework ID (after a restart)")
	fs.StringVar(&cfg.Listen, "listen", framework.DefaultListen, "address of the HTTP API and /metrics")
	fs.StringVar(&cfg.AppsDir, "apps", "", "directory of app definitions (*.json); apps changed over HTTP are saved there")
	strategy := fs.String("strategy", "binpack", "placement strategy: binpack, spread or firstfit")
	fs.DurationVar(&cfg.Refuse, "refuse", framework.DefaultRefuse, "how long declined offers stay away")
	fs.DurationVar(&cfg.StableAfter, "stable-after", framework.DefaultStableAfter, "run time after which an app's backoff resets")
	var tlsFlags auth.Flags
	tlsFlags.Register(fs, "the framework principal")
	masterToken := fs.String("master-token-file", "", "file holding a bearer token to authenticate to the masters with, instead of the certificate")
	apiTokens := fs.String("api-tokens", "", "bearer token file (certs token) of callers of the app API, besides operators' certificates")
	hosts := fs.String("hosts", "", "comma-separated names the app API is reached at, besides its certificate's and IP addresses")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "framework: unexpected arguments %q\n", fs.Args())
		return 2
	}
	s, err := framework.ParseStrategy(*strategy)
	if err != nil {
		fmt.Fprintf(stderr, "framework: %v\n", err)
		return 2
	}
	cfg.Strategy = s
	cfg.Masters = strings.Split(*masters, ",")
	if cfg.TLS, err = tlsFlags.Load(); err != nil {
		fmt.Fprintf(stderr, "framework: %v\n", err)
		return 2
	}
	cfg.Insecure = tlsFlags.Insecure
	if *masterToken != "" {
		b, err := os.ReadFile(*masterToken)
		if err != nil {
			fmt.Fprintf(stderr, "framework: %v\n", err)
			return 2
		}
		cfg.MasterToken = strings.TrimSpace(string(b))
	}
	if *apiTokens != "" {
		if cfg.APITokens, err = auth.LoadTokens(*apiTokens); err != nil {
			fmt.Fprintf(stderr, "framework: %v\n", err)
			return 2
		}
	}
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Hosts = append(cfg.Hosts, h)
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	f, err := framework.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "framework: %v\n", err)
		return 1
	}
	cfg.Logger.Info("serving the app API", "url", f.Addr())
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "framework: %v\n", err)
		return 1
	}
	return 0
}
