package framework

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// GroupView is a group of apps, as GET /v2/groups shows it: the apps whose
// IDs lie directly under its ID, and its subgroups. Gleaner keeps no group
// of its own: a group is the path its apps share.
type GroupView struct {
	ID           string      `json:"id"`
	Apps         []App       `json:"apps"`
	Groups       []GroupView `json:"groups"`
	Dependencies []string    `json:"dependencies"`
}

// groupBody is a group as POST and PUT /v2/groups take it. App and group
// IDs may be relative to the enclosing group; a group's dependencies apply
// to every app in it.
type groupBody struct {
	ID           string            `json:"id"`
	Apps         []json.RawMessage `json:"apps"`
	Groups       []groupBody       `json:"groups"`
	Dependencies []string          `json:"dependencies"`
	Version      string            `json:"version,omitempty"` // as GET shows it; ignored
}

// groupApps decodes the apps of a group body, with absolute IDs and the
// dependencies of their groups, and returns the group's absolute ID.
func groupApps(b groupBody, parent, field string) (string, []App, error) {
	gid := b.ID
	if !strings.HasPrefix(gid, "/") {
		gid = path.Join(parent, gid)
	}
	gid = path.Clean("/" + gid)
	if gid != "/" {
		if _, err := normalizeID(gid); err != nil {
			return "", nil, fieldErr(field+"id", b.ID, "not a group ID")
		}
	}
	var deps []string
	for _, d := range b.Dependencies {
		deps = append(deps, resolveID(gid+"/x", d))
	}
	var apps []App
	for i, raw := range b.Apps {
		f := fmt.Sprintf("%sapps[%d]", field, i)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return "", nil, fieldErr(f, "", "want an app definition object")
		}
		var id string
		if err := json.Unmarshal(obj["id"], &id); err != nil || id == "" {
			return "", nil, fieldErr(f+".id", "", "required")
		}
		if !strings.HasPrefix(id, "/") {
			id = path.Join(gid, id)
		}
		obj["id"], _ = json.Marshal(id)
		data, _ := json.Marshal(obj)
		a, err := decodeApp(data, "")
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", f, err)
		}
		if a.ID == gid || !strings.HasPrefix(a.ID, strings.TrimSuffix(gid, "/")+"/") {
			return "", nil, fieldErr(f+".id", a.ID, "not inside the group %s", gid)
		}
		for _, d := range deps {
			if !slices.Contains(a.Dependencies, d) && d != a.ID {
				a.Dependencies = append(a.Dependencies, d)
			}
		}
		apps = append(apps, a)
	}
	for i, sub := range b.Groups {
		_, more, err := groupApps(sub, gid, fmt.Sprintf("%sgroups[%d].", field, i))
		if err != nil {
			return "", nil, err
		}
		for j := range more {
			for _, d := range deps {
				if !slices.Contains(more[j].Dependencies, d) {
					more[j].Dependencies = append(more[j].Dependencies, d)
				}
			}
		}
		apps = append(apps, more...)
	}
	return gid, apps, nil
}

// under reports whether app ID id lies in group gid.
func under(id, gid string) bool {
	return gid == "/" || strings.HasPrefix(id, gid+"/")
}

// groupView builds the group gid from the apps under it.
func groupView(gid string, apps []App) GroupView {
	g := GroupView{ID: gid, Apps: []App{}, Groups: []GroupView{}, Dependencies: []string{}}
	subs := map[string][]App{}
	for _, a := range apps {
		if !under(a.ID, gid) {
			continue
		}
		if path.Dir(a.ID) == gid {
			g.Apps = append(g.Apps, a)
			continue
		}
		rest := strings.TrimPrefix(a.ID, strings.TrimSuffix(gid, "/")+"/")
		sub := path.Join(gid, strings.SplitN(rest, "/", 2)[0])
		subs[sub] = append(subs[sub], a)
	}
	var ids []string
	for id := range subs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g.Groups = append(g.Groups, groupView(id, subs[id]))
	}
	return g
}

// serveGroup answers /v2/groups and /v2/groups/{id}: GET shows a group,
// POST creates one (409 when apps exist in it), PUT replaces one (its apps
// missing from the body are stopped), DELETE stops every app in it. The
// apps change in one deployment, started in the order of their
// dependencies.
func (f *Framework) serveGroup(w http.ResponseWriter, r *http.Request) {
	gid := path.Clean("/" + r.PathValue("id"))
	force := r.URL.Query().Get("force") == "true"
	f.mu.Lock()
	var apps []App
	for _, st := range f.sched.Apps() {
		apps = append(apps, st.App)
	}
	f.mu.Unlock()
	inGroup := slices.ContainsFunc(apps, func(a App) bool { return under(a.ID, gid) })
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !inGroup && gid != "/" {
			api.WriteError(w, http.StatusNotFound, fmt.Errorf("group %q: %w", gid, errNotFound))
			return
		}
		api.WriteJSON(w, http.StatusOK, groupView(gid, apps))
	case http.MethodPost, http.MethodPut:
		data, err := api.ReadBody(w, r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		var b groupBody
		if err := api.DecodeStrict(data, &b); err != nil {
			writeAPIError(w, fmt.Errorf("%w: %v", errInvalid, err))
			return
		}
		if b.ID == "" {
			b.ID = gid
		}
		parent := "/"
		if r.PathValue("id") != "" && !strings.HasPrefix(b.ID, "/") {
			parent = path.Dir(gid)
		}
		bodyID, groupApps, err := groupApps(b, parent, "")
		if err != nil {
			writeAPIError(w, err)
			return
		}
		if r.PathValue("id") != "" && bodyID != gid {
			writeAPIError(w, fieldErr("id", b.ID, "does not match the group %q in the path", gid))
			return
		}
		gid = bodyID
		inGroup = slices.ContainsFunc(apps, func(a App) bool { return under(a.ID, gid) })
		if r.Method == http.MethodPost && inGroup {
			writeAPIError(w, fmt.Errorf("group %q: %w; PUT /v2/groups%s to change it", gid, errExists, gid))
			return
		}
		var changes []Change
		for i := range groupApps {
			changes = append(changes, Change{App: &groupApps[i]})
		}
		for _, a := range apps {
			if under(a.ID, gid) && !slices.ContainsFunc(groupApps, func(b App) bool { return b.ID == a.ID }) {
				changes = append(changes, Change{ID: a.ID})
			}
		}
		code := http.StatusOK
		if r.Method == http.MethodPost {
			code = http.StatusCreated
		}
		f.reply(w, code, func() (any, error) {
			d, err := f.deploy(changes, force)
			return deploymentResult(d), err
		})
	case http.MethodDelete:
		var changes []Change
		for _, a := range apps {
			if under(a.ID, gid) {
				changes = append(changes, Change{ID: a.ID})
			}
		}
		if len(changes) == 0 {
			api.WriteError(w, http.StatusNotFound, fmt.Errorf("group %q: %w", gid, errNotFound))
			return
		}
		f.reply(w, http.StatusOK, func() (any, error) {
			d, err := f.deploy(changes, force)
			return deploymentResult(d), err
		})
	default:
		methodNotAllowed(w, r, "GET, POST, PUT, DELETE")
	}
}
