package framework

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
)

// newTestFramework returns a framework that is not running (no master is
// needed for its HTTP API) and a test server for its handler.
func newTestFramework(t *testing.T, cfg Config) (*Framework, *httptest.Server) {
	t.Helper()
	cfg.Masters = []string{"https://127.0.0.1:1"}
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = authtest.Framework(t, "marathon")
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	srv := httptest.NewUnstartedServer(f.handler())
	srv.TLS = cfg.TLS.ServerConfig(tls.VerifyClientCertIfGiven)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return f, srv
}

type response struct {
	code   int
	header http.Header
	body   string
}

func request(t *testing.T, method, url, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := authtest.Client(t, authtest.Principal(t, "operator/ops")).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(data)}
}

const webApp = `{"id":"/web","cmd":"sleep 100","cpus":0.5,"mem":64,"instances":2,"constraints":[["rack","GROUP_BY","3"]]}`

func TestHTTPBadInputIsRefusedAndStateStaysIntact(t *testing.T) {
	_, srv := newTestFramework(t, Config{})
	if r := request(t, "POST", srv.URL+"/v2/apps", "application/json", webApp); r.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	before := request(t, "GET", srv.URL+"/v2/apps/web", "", "")

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		code        int
		says        string
	}{
		{"malformed JSON", "POST", "/v2/apps", "application/json", `{"id":"x",`, 400, "malformed JSON: truncated"},
		{"JSON syntax error", "PUT", "/v2/apps/web", "application/json", `{"cmd" "x"}`, 400, "malformed JSON at offset"},
		{"unknown field", "POST", "/v2/apps", "application/json", `{"id":"x","cmd":"y","portDefinition":[]}`, 400, `field "portDefinition": unknown field`},
		{"invalid value names field and value", "PUT", "/v2/apps/web", "application/json", `{"cmd":"x","mem":-5}`, 400, `field "mem": value "-5"`},
		{"bad constraint names the entry", "PUT", "/v2/apps/web", "application/json", `{"cmd":"x","constraints":[["rack","SOMETIMES"]]}`, 400, `constraints[0]`},
		{"oversized body", "POST", "/v2/apps", "application/json", `{"id":"x","cmd":"` + strings.Repeat("y", maxAppBytes) + `"}`, 413, "larger than"},
		{"not JSON", "POST", "/v2/apps", "text/plain", `id: x`, 415, "want application/json"},
		{"bad content type", "POST", "/v2/apps", "application/json; charset", `{}`, 415, "content type"},
		{"no content type", "PUT", "/v2/apps/web", "", `{"cmd":"x"}`, 415, "content type missing"},
		{"empty body", "POST", "/v2/apps", "application/json", ``, 400, "empty body"},
		{"unknown app GET", "GET", "/v2/apps/nope", "", "", 404, `app "/nope": not found`},
		{"unknown app DELETE", "DELETE", "/v2/apps/nope/deeper", "", "", 404, `app "/nope/deeper": not found`},
		{"invalid app ID in path", "GET", "/v2/apps/Bad_ID", "", "", 400, `segment "Bad_ID"`},
		{"ID in body differs from path", "PUT", "/v2/apps/web", "application/json", `{"id":"/other","cmd":"x"}`, 400, `does not match the app "/web"`},
		{"POST of an existing app", "POST", "/v2/apps", "application/json", webApp, 409, "already exists"},
		{"method not allowed", "POST", "/v2/apps/web", "", "", 405, "POST not allowed"},
		{"unknown endpoint", "GET", "/v3/apps", "", "", 404, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(t, tt.method, srv.URL+tt.path, tt.contentType, tt.body)
			if r.code != tt.code {
				t.Fatalf("status %d, want %d: %s", r.code, tt.code, r.body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
				t.Fatalf("body %q is not {\"error\": ...}", r.body)
			}
			if !strings.Contains(e.Error, tt.says) {
				t.Fatalf("error %q does not say %q", e.Error, tt.says)
			}
		})
	}
	if after := request(t, "GET", srv.URL+"/v2/apps/web", "", ""); after.body != before.body {
		t.Fatalf("bad requests changed the app:\n%s\n%s", before.body, after.body)
	}
	var list struct{ Apps []AppStatus }
	if r := request(t, "GET", srv.URL+"/v2/apps", "", ""); json.Unmarshal([]byte(r.body), &list) != nil || len(list.Apps) != 1 {
		t.Fatalf("apps after bad requests: %s", r.body)
	}
}

func TestHTTPAppLifecycle(t *testing.T) {
	_, srv := newTestFramework(t, Config{})
	r := request(t, "PUT", srv.URL+"/v2/apps/team/web", "application/json", `{"cmd":"sleep 1","cpus":0.1,"instances":3}`)
	if r.code != http.StatusCreated {
		t.Fatalf("PUT new: %d %s", r.code, r.body)
	}
	var dr DeploymentResult
	if err := json.Unmarshal([]byte(r.body), &dr); err != nil || dr.DeploymentID == "" || dr.Version == "" {
		t.Fatalf("PUT answer %s, %v", r.body, err)
	}
	var one struct{ App AppStatus }
	r = request(t, "GET", srv.URL+"/v2/apps/team/web", "", "")
	if err := json.Unmarshal([]byte(r.body), &one); err != nil || one.App.ID != "/team/web" || one.App.Mem != defaultMem ||
		len(one.App.Deployments) != 1 || one.App.Deployments[0].ID != dr.DeploymentID {
		t.Fatalf("GET: %s", r.body)
	}
	if p := one.App.Pending; p == nil || p.Instances != 3 || p.Reason != "waiting for offers" {
		t.Fatalf("pending = %+v", p)
	}
	// The app's start is not done (no offers): a change is refused
	// until forced, as Marathon's lock does.
	r = request(t, "PUT", srv.URL+"/v2/apps/team/web", "application/json", `{"instances":5}`)
	if r.code != http.StatusConflict || !strings.Contains(r.body, dr.DeploymentID) {
		t.Fatalf("PUT while deploying: %d %s", r.code, r.body)
	}
	r = request(t, "PUT", srv.URL+"/v2/apps/team/web?force=true", "application/json", `{"instances":5}`)
	if r.code != http.StatusOK {
		t.Fatalf("PUT update: %d %s", r.code, r.body)
	}
	r = request(t, "GET", srv.URL+"/v2/apps/team/web", "", "")
	if err := json.Unmarshal([]byte(r.body), &one); err != nil || one.App.Instances != 5 || one.App.Cmd != "sleep 1" || one.App.Tasks == nil {
		t.Fatalf("GET after a partial update: %s", r.body)
	}
	var deployments []DeploymentView
	r = request(t, "GET", srv.URL+"/v2/deployments", "", "")
	if err := json.Unmarshal([]byte(r.body), &deployments); err != nil || len(deployments) != 1 ||
		deployments[0].AffectedApps[0] != "/team/web" || deployments[0].Steps[0].Actions[0].Action != ActionScale {
		t.Fatalf("deployments: %s", r.body)
	}
	if r := request(t, "DELETE", srv.URL+"/v2/apps/team/web?force=true", "", ""); r.code != http.StatusOK || !strings.Contains(r.body, "deploymentId") {
		t.Fatalf("DELETE: %d %s", r.code, r.body)
	}
	if r := request(t, "GET", srv.URL+"/v2/apps/team/web", "", ""); r.code != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d", r.code)
	}
	if r := request(t, "GET", srv.URL+"/ping", "", ""); r.code != 200 || r.body != "pong\n" {
		t.Fatalf("ping: %d %q", r.code, r.body)
	}
	var info Info
	r = request(t, "GET", srv.URL+"/v2/info", "", "")
	if json.Unmarshal([]byte(r.body), &info) != nil || info.Name != DefaultName || info.Connected || info.Strategy != "BinPack" {
		t.Fatalf("info: %s", r.body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	_, srv := newTestFramework(t, Config{})
	request(t, "POST", srv.URL+"/v2/apps", "application/json", webApp)
	r := request(t, "GET", srv.URL+"/metrics", "", "")
	for _, want := range []string{
		"gleaner_framework_apps 1",
		"gleaner_framework_instances_wanted 2",
		"gleaner_framework_instances_pending 2",
		"gleaner_framework_connected 0",
		"gleaner_framework_offers_received_total 0",
		`gleaner_framework_app_instances{app="/web",state="pending"} 2`,
		`gleaner_framework_app_instances{app="/web",state="wanted"} 2`,
		`gleaner_framework_app_consecutive_failures{app="/web"} 0`,
	} {
		if !strings.Contains(r.body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestAppsDirPersistsHTTPChanges(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/apps/sleeper.json")
	if err != nil {
		t.Fatal(err)
	}
	// A file whose name is not the app's ID keeps its name when updated.
	if err := os.WriteFile(filepath.Join(dir, "my-sleeper.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, srv := newTestFramework(t, Config{AppsDir: dir})
	request(t, "POST", srv.URL+"/v2/apps", "application/json", webApp)
	request(t, "PUT", srv.URL+"/v2/apps/sleeper?force=true", "application/json", `{"cmd":"sleep 7200"}`)

	names := func() []string {
		entries, _ := os.ReadDir(dir)
		var n []string
		for _, e := range entries {
			n = append(n, e.Name())
		}
		return n
	}
	if got := strings.Join(names(), " "); got != "my-sleeper.json web.json" {
		t.Fatalf("apps dir holds %q", got)
	}
	// A new framework on the same directory starts with the same apps.
	f2, _ := newTestFramework(t, Config{AppsDir: dir})
	f2.mu.Lock()
	apps := f2.sched.Apps()
	f2.mu.Unlock()
	if len(apps) != 2 || apps[0].ID != "/sleeper" || apps[0].Cmd != "sleep 7200" || apps[1].ID != "/web" {
		t.Fatalf("reloaded apps %+v", apps)
	}

	request(t, "DELETE", srv.URL+"/v2/apps/sleeper?force=true", "", "")
	if got := strings.Join(names(), " "); got != "web.json" {
		t.Fatalf("after DELETE the apps dir holds %q", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		says string
	}{
		{"no master", Config{Listen: "127.0.0.1:0"}, "no master"},
		{"neither TLS nor insecure", Config{Masters: []string{"https://m"}, Listen: "127.0.0.1:0"}, "Config.TLS is required"},
		{"negative weight", Config{Insecure: true, Masters: []string{"http://m"}, Weight: -1, Listen: "127.0.0.1:0"}, "weight"},
		{"invalid app", Config{Insecure: true, Masters: []string{"http://m"}, Listen: "127.0.0.1:0", Apps: []App{{ID: "x"}}}, "cmd"},
		{"app twice", Config{Insecure: true, Masters: []string{"http://m"}, Listen: "127.0.0.1:0", Apps: []App{{ID: "x", Cmd: "y", Cpus: 1}, {ID: "/x", Cmd: "y", Cpus: 1}}}, "given twice"},
		{"bad apps dir", Config{Insecure: true, Masters: []string{"http://m"}, Listen: "127.0.0.1:0", AppsDir: "testdata/nope"}, "apps directory"},
		{"bad listen address", Config{Insecure: true, Masters: []string{"http://m"}, Listen: "256.0.0.1:x"}, "framework API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.cfg)
			if err == nil {
				f.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestParseStrategy(t *testing.T) {
	for in, want := range map[string]string{"binpack": "BinPack", "SPREAD": "Spread", "FirstFit": "FirstFit"} {
		s, err := ParseStrategy(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseStrategy(%q) = %v, %v", in, s, err)
		}
	}
	if _, err := ParseStrategy("random"); err == nil {
		t.Error("ParseStrategy(random) succeeded")
	}
}

func TestHTTPGroupsQueueAndPatch(t *testing.T) {
	_, srv := newTestFramework(t, Config{})
	const js = "application/json"
	r := request(t, "POST", srv.URL+"/v2/groups", js, `{"id":"/shop","apps":[
		{"id":"db","cmd":"db","cpus":0.1,"mem":16},
		{"id":"web","cmd":"web","cpus":0.1,"mem":16,"instances":2,"dependencies":["/shop/db"]}]}`)
	if r.code != http.StatusCreated || !strings.Contains(r.body, "deploymentId") {
		t.Fatalf("POST /v2/groups: %d %s", r.code, r.body)
	}
	if r := request(t, "POST", srv.URL+"/v2/groups", js, `{"id":"/shop","apps":[]}`); r.code != http.StatusConflict {
		t.Fatalf("POST of an existing group: %d %s", r.code, r.body)
	}
	var deployments []DeploymentView
	r = request(t, "GET", srv.URL+"/v2/deployments", "", "")
	if json.Unmarshal([]byte(r.body), &deployments) != nil || len(deployments) != 1 || deployments[0].TotalSteps != 2 ||
		deployments[0].Steps[0].Actions[0].App != "/shop/db" || deployments[0].CurrentActions[0].App != "/shop/db" {
		t.Fatalf("deployments: %s", r.body)
	}
	// web waits for db: only db is defined, and queued, so far.
	var g GroupView
	r = request(t, "GET", srv.URL+"/v2/groups/shop", "", "")
	if json.Unmarshal([]byte(r.body), &g) != nil || g.ID != "/shop" || len(g.Apps) != 1 || g.Apps[0].ID != "/shop/db" {
		t.Fatalf("GET /v2/groups/shop: %s", r.body)
	}
	var q struct{ Queue []QueueEntry }
	r = request(t, "GET", srv.URL+"/v2/queue", "", "")
	if json.Unmarshal([]byte(r.body), &q) != nil || len(q.Queue) != 1 || q.Queue[0].App.ID != "/shop/db" || q.Queue[0].Count != 1 || !q.Queue[0].Delay.Overdue {
		t.Fatalf("GET /v2/queue: %s", r.body)
	}
	if r := request(t, "DELETE", srv.URL+"/v2/queue/shop/db/delay", "", ""); r.code != http.StatusNoContent {
		t.Fatalf("DELETE delay: %d %s", r.code, r.body)
	}
	if r := request(t, "PATCH", srv.URL+"/v2/apps/shop/db", js, `{"instances":2}`); r.code != http.StatusConflict {
		t.Fatalf("PATCH while deploying: %d %s", r.code, r.body)
	}
	if r := request(t, "PATCH", srv.URL+"/v2/apps/shop/db?force=true", js, `{"instances":2}`); r.code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.code, r.body)
	}
	if r := request(t, "PATCH", srv.URL+"/v2/apps/nope", js, `{"instances":2}`); r.code != http.StatusNotFound {
		t.Fatalf("PATCH of an unknown app: %d %s", r.code, r.body)
	}
	if r := request(t, "DELETE", srv.URL+"/v2/groups/shop?force=true", "", ""); r.code != http.StatusOK {
		t.Fatalf("DELETE /v2/groups/shop: %d %s", r.code, r.body)
	}
	if r := request(t, "GET", srv.URL+"/v2/groups/shop", "", ""); r.code != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d %s", r.code, r.body)
	}
}
