package framework

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns the HTTP API (see the package documentation).
func (f *Framework) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/apps", f.serveApps)
	mux.HandleFunc("/v2/apps/{id...}", f.serveApp)
	mux.HandleFunc("GET /v2/tasks", f.serveTasks)
	mux.HandleFunc("GET /v2/info", f.serveInfo)
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "pong\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(f.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, fmt.Errorf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
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
		st, _, err := f.putApp(a, false)
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

func (f *Framework) serveApp(w http.ResponseWriter, r *http.Request) {
	id, err := normalizeID(r.PathValue("id"))
	if err != nil {
		writeAPIError(w, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		f.mu.Lock()
		st, err := f.sched.App(id)
		f.mu.Unlock()
		if err != nil {
			writeAPIError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"app": st})
	case http.MethodPut:
		a, err := readApp(w, r, id)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		st, created, err := f.putApp(a, true)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		code := http.StatusOK
		if created {
			code = http.StatusCreated
		}
		api.WriteJSON(w, code, st)
	case http.MethodDelete:
		if err := f.deleteApp(id); err != nil {
			writeAPIError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"deleted": id})
	default:
		methodNotAllowed(w, r, "GET, PUT, DELETE")
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

// putApp creates or replaces an app, saving it first when there is an apps
// directory. With replace false an existing app is errExists.
func (f *Framework) putApp(a App, replace bool) (AppStatus, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.sched.App(a.ID); err == nil && !replace {
		return AppStatus{}, false, fmt.Errorf("app %q: %w; PUT /v2/apps%s to change it", a.ID, errExists, a.ID)
	}
	if dir := f.cfg.AppsDir; dir != "" {
		path, ok := f.files[a.ID]
		if !ok {
			path = filepath.Join(dir, appFileName(a.ID))
		}
		if err := writeAppFile(path, a); err != nil {
			return AppStatus{}, false, err
		}
		f.files[a.ID] = path
	}
	created := f.sched.PutApp(a)
	st, err := f.sched.App(a.ID)
	f.poke()
	return st, created, err
}

func (f *Framework) deleteApp(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.sched.App(id); err != nil {
		return err
	}
	if path, ok := f.files[id]; ok {
		if err := removeAppFile(path); err != nil {
			return err
		}
		delete(f.files, id)
	}
	err := f.sched.RemoveApp(id)
	f.poke()
	return err
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
	case errors.Is(err, errExists):
		code = http.StatusConflict
	}
	api.WriteError(w, code, err)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	api.WriteError(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
}
