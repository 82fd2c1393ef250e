package framework

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
)

// Handler returns the HTTP API (see the package documentation).
func (f *Framework) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/apps", f.serveApps)
	mux.HandleFunc("/v2/apps/{id...}", f.serveApp)
	mux.HandleFunc("GET /v2/tasks", f.serveTasks)
	mux.HandleFunc("GET /v2/deployments", f.serveDeployments)
	mux.HandleFunc("DELETE /v2/deployments/{id}", f.cancelDeployment)
	mux.HandleFunc("GET /v2/queue", f.serveQueue)
	mux.HandleFunc("DELETE /v2/queue/{id...}", f.resetDelay)
	mux.HandleFunc("/v2/groups", f.serveGroup)
	mux.HandleFunc("/v2/groups/{id...}", f.serveGroup)
	mux.HandleFunc("GET /v2/info", f.serveInfo)
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "pong\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(f.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, errNoEndpoint(r))
	})
	guard := &auth.Guard{TLS: f.cfg.TLS, Insecure: f.cfg.Insecure, Tokens: f.cfg.APITokens,
		Hosts: f.cfg.Hosts, Public: []string{"/ping"}}
	return guard.Wrap(f.operators(mux))
}

// operators lets through operators' certificates and bearer tokens of
// APITokens; other principals (an agent's certificate, say) get 403.
func (f *Framework) operators(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.PrincipalFrom(r.Context())
		byToken := r.TLS != nil && len(r.TLS.PeerCertificates) == 0
		if f.cfg.Insecure || r.URL.Path == "/ping" || p.Kind == auth.KindOperator || (byToken && p != auth.Anonymous) {
			next.ServeHTTP(w, r)
			return
		}
		api.WriteError(w, http.StatusForbidden, fmt.Errorf("principal %s: the app API answers operators and holders of its tokens", p))
	})
}

func (f *Framework) serveApps(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		f.mu.Lock()
		apps := f.sched.Apps()
		f.mu.Unlock()
		if apps == nil {
			apps = []AppStatus{}
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"apps": apps})
	case http.MethodPost:
		a, err := readApp(w, r, "")
		if err != nil {
			writeAPIError(w, err)
			return
		}
		st, err := f.createApp(a)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		w.Header().Set("Location", "/v2/apps"+a.ID)
		api.WriteJSON(w, http.StatusCreated, st)
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

func (f *Framework) serveTasks(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	apps := f.sched.Apps()
	f.mu.Unlock()
	tasks := []TaskView{}
	for _, a := range apps {
		tasks = append(tasks, a.Tasks...)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"tasks": tasks})
}

// Info answers GET /v2/info.
type Info struct {
	Name        string `json:"name"`
	FrameworkID string `json:"frameworkId"`
	Master      string `json:"master"`
	Connected   bool   `json:"connected"`
	Strategy    string `json:"strategy"`
}

func (f *Framework) serveInfo(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	info := Info{Name: f.cfg.Name, FrameworkID: f.frameworkID, Master: f.client.Leader(), Connected: f.connected, Strategy: f.cfg.Strategy.String()}
	f.mu.Unlock()
	api.WriteJSON(w, http.StatusOK, info)
}

// readApp reads an app definition from a request body (api.ReadBody: JSON
// only, at most api.MaxBodyBytes). For PUT, pathID is the app in the path;
// the body's id may be left out, and must match when given.
func readApp(w http.ResponseWriter, r *http.Request, pathID string) (App, error) {
	data, err := api.ReadBody(w, r)
	if err != nil {
		return App{}, err
	}
	return decodeApp(data, pathID)
}

// writeAPIError answers with the status that fits err (a body or content
// type api.ReadBody refused carries its own).
func writeAPIError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, errTooLarge):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, errInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, errNotFound):
		code = http.StatusNotFound
	case errors.Is(err, errExists), errors.Is(err, ErrLocked):
		code = http.StatusConflict
	}
	api.WriteError(w, code, err)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	api.WriteError(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
}

func errNoEndpoint(r *http.Request) error {
	return fmt.Errorf("no such endpoint: %s %s", r.Method, r.URL.Path)
}
