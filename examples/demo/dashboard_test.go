//go:build linux

package main

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/framework"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

func TestMain(m *testing.M) {
	rootfs.Init()
	cluster.Init()
	os.Exit(m.Run())
}

// startDemo starts the demo's cluster in-process, with its sample apps, and
// closes it when the test ends.
func startDemo(t *testing.T) *cluster.Cluster {
	t.Helper()
	c, err := cluster.Start(t.Context(), demoConfig(t.TempDir(), "127.0.0.1:0", false, false, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("closing the demo: %v", err)
		}
	})
	return c
}

// TestDashboardInBrowserShowsLiveCluster loads the dashboard of a running
// demo in headless chromium and checks what a person would see: the three
// agents listed as up, a task of the batch app running, and the indexer app
// pending with the constraint that holds it back.
func TestDashboardInBrowserShowsLiveCluster(t *testing.T) {
	browser := testenv.RequireBinary(t, "chromium")
	c := startDemo(t)
	ctx, cancel, err := newBrowser(t.Context(), browser, t.TempDir(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	if err := waitForLiveData(ctx, c.DashboardURL()); err != nil {
		t.Fatalf("dashboard at %s never showed a running task: %v", c.DashboardURL(), err)
	}

	if insecure, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#insecure`), "hidden")); err != nil || !insecure.Exists {
		t.Errorf("the INSECURE banner shows on a secure demo (%v)", err)
	}
	agents, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll(`#agents tr[data-agent-id]`)))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range agents {
		ids = append(ids, a["data-agent-id"])
		if a["data-up"] != "true" {
			t.Errorf("agent %s shown with data-up=%q, want true", a["data-agent-id"], a["data-up"])
		}
	}
	slices.Sort(ids)
	if want := []string{"agent-1", "agent-2", "agent-3"}; !slices.Equal(ids, want) {
		t.Errorf("agents listed: %v, want %v", ids, want)
	}

	batch, indexer := framework.WireAppID("/demo/batch"), framework.WireAppID("/demo/indexer")
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#tasks tr[data-state="TASK_RUNNING"][data-app-id="`+batch+`"] .task-state`)))
	if err != nil {
		t.Fatalf("no running task of /demo/batch in the tasks table: %v", err)
	}
	if strings.TrimSpace(state) != "TASK_RUNNING" {
		t.Errorf("a running batch task's state cell reads %q, want TASK_RUNNING", state)
	}

	// The batch app's health check passes on the agents, and its start
	// is a deployment that finished.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#tasks tr[data-app-id="`+batch+`"][data-healthy="true"] .task-health`))); err != nil {
		t.Fatalf("no healthy batch task in the tasks table: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#deployments tr[data-result="finished"] .deployment-actions`))); err != nil {
		t.Fatalf("no finished deployment in the deployments table: %v", err)
	}
	actions, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#deployments tr[data-result="finished"] .deployment-actions`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(actions, "Start") {
		t.Errorf("a finished deployment reads %q, want it to name the app it started", actions)
	}

	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#pending tr[data-app-id="`+indexer+`"]`))); err != nil {
		t.Fatalf("indexer app never shown pending: %v", err)
	}
	reason, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#pending tr[data-app-id="`+indexer+`"] .pending-reason`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "ssd") {
		t.Errorf("indexer's pending reason reads %q, want it to name the ssd constraint", reason)
	}
	// The same reason, typed: every offer was turned down by the ssd
	// constraint, shown as a count under kind "constraint".
	rej := `#pending tr[data-app-id="` + indexer + `"] .pending-rejections span.rejection[data-kind="constraint"][data-name="ssd:IS:true"]`
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(rej))); err != nil {
		t.Fatalf("indexer's rejections never show the ssd constraint: %v", err)
	}
	counted, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(rej), "data-offers"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strconv.Atoi(counted.Value); err != nil || n < 1 {
		t.Errorf("ssd constraint turned down %q offers, want a positive count", counted.Value)
	}

	// The cluster view leads, every figure with its unit.
	for res, unit := range map[string]string{"cpus": " cores", "mem": "iB"} {
		for _, col := range []string{"capacity", "lent", "harvested", "idle-not-lent"} {
			text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#cluster tr[data-resource="`+res+`"] .cluster-`+col)))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(strings.TrimSpace(text), unit) {
				t.Errorf("cluster %s %s reads %q, want a figure in%s", res, col, text, unit)
			}
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`canvas[data-cluster-chart="cpus"]`))); err != nil {
		t.Fatalf("no cluster chart: %v", err)
	}
}
