//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/internal/atomicfile"
	"github.com/gleaner/gleaner/internal/pki"
)

// newBrowser starts a headless chromium (the Debian package's binary at
// path) with a fresh profile in userDataDir and returns a tab's context.
// The flags are the ones chromium needs to run as root in a container
// without network: no sandbox (root), no GPU, and none of the background
// traffic a first run starts. It trusts the server certificate of c's
// master alone (the demo's CA is a throwaway one no browser knows), by its
// key's hash. cancel stops the browser.
func newBrowser(ctx context.Context, path, userDataDir string, c *cluster.Cluster) (context.Context, context.CancelFunc, error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
	}
	if files, ok := c.Files(cluster.Master); ok {
		spki, err := spkiHash(files.Cert)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	return tctx, func() { cancelTab(); cancelAlloc() }, nil
}

// spkiHash is the base64 SHA-256 of the public key of the certificate in
// file, as chromium's --ignore-certificate-errors-spki-list takes it.
func spkiHash(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	cert, err := pki.ParseCertificate(data)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// waitForLiveData loads the dashboard at url and waits until it has polled
// the master and lists at least one running task.
func waitForLiveData(ctx context.Context, url string) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tasks tr[data-state="TASK_RUNNING"]`)),
	)
}

// screenshot saves a PNG of the whole dashboard of c to file, using the
// chromium at browser, once it shows live data and its charts have had
// settle to fill.
func screenshot(ctx context.Context, browser string, c *cluster.Cluster, file string, settle time.Duration) error {
	profile, err := os.MkdirTemp("", "gleaner-demo-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	bctx, cancel, err := newBrowser(ctx, browser, profile, c)
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	defer cancel()
	url := c.DashboardURL()
	bctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelTimeout()
	if err := waitForLiveData(bctx, url); err != nil {
		return fmt.Errorf("screenshot: waiting for the dashboard: %w", err)
	}
	if err := chromedp.Do(bctx, chromedp.Sleep(settle)); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := atomicfile.WriteFile(file, png, 0o644); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}
