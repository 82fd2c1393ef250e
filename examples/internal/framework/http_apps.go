package framework

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// DeploymentResult answers a change that started a deployment, as
// Marathon's PUT, DELETE and restart do.
type DeploymentResult struct {
	DeploymentID string `json:"deploymentId"`
	Version      string `json:"version"`
}

func deploymentResult(d DeploymentView) DeploymentResult {
	return DeploymentResult{DeploymentID: d.ID, Version: d.Version}
}

// serveApp answers /v2/apps/{id} and the resources under it: /restart,
// /tasks and /tasks/{taskId}. As in Marathon, an app ID may itself end in
// "tasks" or "restart"; the method and the task ID's dot tell them apart.
func (f *Framework) serveApp(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.PathValue("id"), "/")
	rest := ""
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/restart"):
		path, rest = strings.TrimSuffix(path, "/restart"), "restart"
	case strings.HasSuffix(path, "/tasks") && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		path, rest = strings.TrimSuffix(path, "/tasks"), "tasks"
	default:
		if i := strings.LastIndex(path, "/tasks/"); i >= 0 && r.Method == http.MethodDelete && strings.Contains(path[i+7:], ".") {
			path, rest = path[:i], path[i+1:]
		}
	}
	id, err := normalizeID(path)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	force := r.URL.Query().Get("force") == "true"
	switch {
	case rest == "restart":
		f.reply(w, http.StatusOK, func() (any, error) {
			d, err := f.deploy([]Change{{ID: id, Restart: true}}, force)
			return deploymentResult(d), err
		})
	case rest == "tasks" && r.Method == http.MethodGet:
		f.reply(w, http.StatusOK, func() (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			st, err := f.sched.App(id)
			return map[string]any{"tasks": st.Tasks}, err
		})
	case rest == "tasks":
		f.killTasks(w, r, id, "")
	case strings.HasPrefix(rest, "tasks/"):
		f.killTasks(w, r, id, strings.TrimPrefix(rest, "tasks/"))
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		f.reply(w, http.StatusOK, func() (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			st, err := f.sched.App(id)
			return map[string]any{"app": st}, err
		})
	case r.Method == http.MethodPut || r.Method == http.MethodPatch:
		f.updateApp(w, r, id, force)
	case r.Method == http.MethodDelete:
		f.reply(w, http.StatusOK, func() (any, error) {
			d, err := f.deploy([]Change{{ID: id}}, force)
			return deploymentResult(d), err
		})
	default:
		methodNotAllowed(w, r, "GET, PUT, PATCH, DELETE")
	}
}

// updateApp is PUT and PATCH /v2/apps/{id}. PATCH, and PUT unless
// ?partialUpdate=false, merge the body into the current definition (the
// fields it gives replace the app's, the others stay), as Marathon 1.x
// does, so that {"instances": 5} scales. PUT of an unknown app creates it
// (201). Both answer with the deployment.
func (f *Framework) updateApp(w http.ResponseWriter, r *http.Request, id string, force bool) {
	data, err := api.ReadBody(w, r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	partial := r.Method == http.MethodPatch || r.URL.Query().Get("partialUpdate") != "false"
	f.mu.Lock()
	cur, err := f.sched.App(id)
	f.mu.Unlock()
	exists := err == nil
	if !exists && r.Method == http.MethodPatch {
		writeAPIError(w, err)
		return
	}
	if exists && partial {
		if data, err = mergeApp(cur.App, data); err != nil {
			writeAPIError(w, err)
			return
		}
	}
	a, err := decodeApp(data, id)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	code := http.StatusOK
	if !exists {
		code = http.StatusCreated
	}
	f.reply(w, code, func() (any, error) {
		d, err := f.deploy([]Change{{App: &a}}, force)
		return deploymentResult(d), err
	})
}

// killTasks is DELETE /v2/apps/{id}/tasks[/{taskId}]: it kills one task,
// or every task of the app (those on ?host= only, if given). With
// ?scale=true the app's instances shrink by as many, in a deployment;
// otherwise the tasks are replaced.
func (f *Framework) killTasks(w http.ResponseWriter, r *http.Request, appID, taskID string) {
	q := r.URL.Query()
	scale := q.Get("scale") == "true"
	f.reply(w, http.StatusOK, func() (any, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		st, err := f.sched.App(appID)
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, t := range st.Tasks {
			if t.KillReason == "" && (taskID == t.ID || (taskID == "" && (q.Get("host") == "" || q.Get("host") == t.Host))) {
				ids = append(ids, t.ID)
			}
		}
		if taskID != "" && len(ids) == 0 {
			return nil, fmt.Errorf("task %q of app %q: %w", taskID, appID, errNotFound)
		}
		if scale {
			a := st.App
			a.Instances = max(0, a.Instances-len(ids))
			if err := f.save(a); err != nil {
				return nil, err
			}
		}
		killed, d, err := f.sched.KillTasks(appID, ids, scale)
		defer f.poke()
		switch {
		case err != nil:
			return nil, err
		case d != nil:
			return deploymentResult(*d), nil
		case taskID != "":
			return map[string]any{"task": killed[0]}, nil
		}
		return map[string]any{"tasks": killed}, nil
	})
}

// reply answers with do's value and code, or with do's error.
func (f *Framework) reply(w http.ResponseWriter, code int, do func() (any, error)) {
	v, err := do()
	if err != nil {
		writeAPIError(w, err)
		return
	}
	api.WriteJSON(w, code, v)
}

// deploy carries out changes as one deployment: the apps directory is
// brought up to date first, so that a change that cannot be saved is not
// made.
func (f *Framework) deploy(changes []Change, force bool) (DeploymentView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.sched.CheckDeploy(changes, force); err != nil {
		return DeploymentView{}, err
	}
	for _, c := range changes {
		switch {
		case c.App != nil:
			if err := f.save(*c.App); err != nil {
				return DeploymentView{}, err
			}
		case !c.Restart:
			if err := f.unsave(c.ID); err != nil {
				return DeploymentView{}, err
			}
		}
	}
	d, err := f.sched.Deploy(changes, force)
	f.poke()
	return d, err
}

// save writes an app to the apps directory, if there is one; f.mu is held.
func (f *Framework) save(a App) error {
	dir := f.cfg.AppsDir
	if dir == "" {
		return nil
	}
	path, ok := f.files[a.ID]
	if !ok {
		path = filepath.Join(dir, appFileName(a.ID))
	}
	if err := writeAppFile(path, a); err != nil {
		return err
	}
	f.files[a.ID] = path
	return nil
}

// unsave removes an app's file from the apps directory; f.mu is held.
func (f *Framework) unsave(id string) error {
	if path, ok := f.files[id]; ok {
		if err := removeAppFile(path); err != nil {
			return err
		}
		delete(f.files, id)
	}
	return nil
}

// createApp is POST /v2/apps: an app that exists is errExists.
func (f *Framework) createApp(a App) (AppStatus, error) {
	f.mu.Lock()
	_, err := f.sched.App(a.ID)
	f.mu.Unlock()
	if err == nil {
		return AppStatus{}, fmt.Errorf("app %q: %w; PUT /v2/apps%s to change it", a.ID, errExists, a.ID)
	}
	if _, err := f.deploy([]Change{{App: &a}}, false); err != nil {
		return AppStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sched.App(a.ID)
}

func (f *Framework) serveDeployments(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	ds := f.sched.Deployments()
	f.mu.Unlock()
	api.WriteJSON(w, http.StatusOK, ds)
}

// cancelDeployment is DELETE /v2/deployments/{id}: a rollback, answered
// with its deployment, or with ?force=true a plain stop (202, no body).
func (f *Framework) cancelDeployment(w http.ResponseWriter, r *http.Request) {
	force := r.URL.Query().Get("force") == "true"
	f.mu.Lock()
	rb, err := f.sched.CancelDeployment(r.PathValue("id"), force)
	if err == nil && rb != nil {
		// The apps directory follows the apps rolled back.
		for _, id := range rb.AffectedApps {
			var saveErr error
			if st, err := f.sched.App(id); err == nil {
				saveErr = f.save(st.App)
			} else {
				saveErr = f.unsave(id)
			}
			if saveErr != nil {
				f.log.Warn("apps directory after a rollback", "app", id, "err", saveErr)
			}
		}
	}
	f.mu.Unlock()
	f.poke()
	switch {
	case err != nil:
		writeAPIError(w, err)
	case rb == nil:
		w.WriteHeader(http.StatusAccepted)
	default:
		api.WriteJSON(w, http.StatusOK, deploymentResult(*rb))
	}
}
