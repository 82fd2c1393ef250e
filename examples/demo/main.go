//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/rootfs"
)

func main() {
	rootfs.Init()
	cluster.Init()
	listen := flag.String("listen", "127.0.0.1:5050", "address of the master and its dashboard (port 0: any free port)")
	dir := flag.String("dir", "", "directory for etcd and the agents (default: a temporary directory, removed at exit)")
	shot := flag.String("screenshot", "", "save a PNG of the dashboard to this file once it shows running tasks, then exit")
	browser := flag.String("chromium", "chromium", "chromium binary for -screenshot")
	settle := flag.Duration("screenshot-after", 20*time.Second, "with -screenshot: how long the charts fill after the first running task")
	every := flag.Duration("summary", 2*time.Second, "how often to check the cluster for the summary")
	hostBusiness := flag.Bool("host-business", false, "agents take the host's usage (minus Gleaner's) as the business, instead of a simulated business in cgroups of their own")
	insecure := flag.Bool("insecure", false, "run every component plaintext, authenticating nobody (the dashboard says so in red)")
	verbose := flag.Bool("v", false, "log every component to stderr")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first Ctrl-C the demo cleans up; a second one quits at once.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, options{listen: *listen, dir: *dir, screenshot: *shot, chromium: *browser, settle: *settle, every: *every, hostBusiness: *hostBusiness, insecure: *insecure, verbose: *verbose}); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// demoConfig is the demo's cluster: three agents, the sample apps, and a
// simulated business unless hostBusiness; secure unless insecure.
func demoConfig(dir, listen string, hostBusiness, insecure bool, logger *slog.Logger) cluster.Config {
	return cluster.Config{Dir: dir, Listen: listen, Apps: sampleApps(), SimulatedBusiness: !hostBusiness, Insecure: insecure, Logger: logger}
}

type options struct {
	listen, dir, screenshot, chromium string
	settle, every                     time.Duration
	hostBusiness, insecure, verbose   bool
}

func run(ctx context.Context, o options) (err error) {
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	cfg := demoConfig(o.dir, o.listen, o.hostBusiness, o.insecure, logger)
	helperDir, err := os.MkdirTemp("", "gleaner-demo-helper-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(helperDir)
	cfg.InitHelper = buildHelper(ctx, helperDir)
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("stopping: killing tasks, removing cgroups, mounts and", c.Dir(), "(Ctrl-C again quits at once)")
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := c.Close(closeCtx); cerr != nil && err == nil {
			err = cerr
		}
	}()
	printIntro(os.Stdout, c)
	if o.screenshot != "" {
		if err := screenshot(ctx, o.chromium, c, o.screenshot, o.settle); err != nil {
			return err
		}
		fmt.Println("saved", o.screenshot)
		return nil
	}
	printSummaries(ctx, os.Stdout, c.Client(), o.every)
	return nil
}

// printIntro says where everything is and, for a secure cluster, the exact
// commands that reach it with the demo's credentials.
func printIntro(w io.Writer, c *cluster.Cluster) {
	fmt.Fprintf(w, "Gleaner demo: dashboard at %s\n", c.DashboardURL())
	admin, secure := c.Files(cluster.Admin)
	if secure {
		fmt.Fprintf(w, "  (a read-only token is in the address; the certificate is of the demo's throwaway CA %s: the browser warns once)\n", admin.CA)
	} else {
		fmt.Fprintln(w, "  INSECURE: plaintext, no authentication (-insecure)")
	}
	fmt.Fprintf(w, "  business: %s\n", c.Business())
	cgroups := "cgroups under " + c.CgroupRoot()
	if c.CgroupRoot() == "" {
		cgroups = "no cgroups (isolation unavailable)"
	}
	fmt.Fprintf(w, "  etcd prefix %s, %s, files in %s\n", c.Prefix(), cgroups, c.Dir())
	fmt.Fprintf(w, "  framework API: %s\n", c.FrameworkURL())
	curl, tlsFlags := "curl -sS", ""
	if secure {
		curl = fmt.Sprintf("curl -sS --cacert %s --cert %s --key %s", admin.CA, admin.Cert, admin.Key)
		tlsFlags = fmt.Sprintf(" --ca %s --cert %s --key %s", admin.CA, admin.Cert, admin.Key)
	}
	fmt.Fprintf(w, "  post an app:  %s -H 'Content-Type: application/json' -d '%s' %s/v2/apps\n", curl, helloApp, c.FrameworkURL())
	fmt.Fprintf(w, "  master state: %s %s%s\n", curl, c.Masters()[0], api.PathState)
	fmt.Fprintf(w, "  try: go run ./examples/attrctl --endpoints %s%s set agent-2 ssd:true   (the indexer app waits for it)\n", c.EtcdEndpoint(), tlsFlags)
	fmt.Fprintln(w, "  Ctrl-C stops everything.")
}

// helloApp is the app the printed curl command posts.
const helloApp = `{"id":"/demo/hello","cmd":"sleep 3600","cpus":0.1,"mem":16}`
