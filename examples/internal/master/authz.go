package master

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
)

// check authorizes a decoded request of principal who. It runs under m.mu
// with the leader's state c (nil for checks that need none), so that what
// it saw still holds when the call runs. Checks are skipped on an insecure
// master.
type check[Req any] func(m *Master, who auth.Principal, c *cluster, req *Req) error

// authorize runs chk for r's principal unless the master is insecure.
func authorize[Req any](m *Master, r *http.Request, chk check[Req], c *cluster, req *Req) error {
	if m.cfg.Insecure {
		return nil
	}
	return chk(m, auth.PrincipalFrom(r.Context()), c, req)
}

// locked runs fn under m.mu with the leader's state once chk allowed req;
// it returns errNotLeading when this master does not lead.
func locked[Req any](m *Master, r *http.Request, chk check[Req], req *Req, fn func(c *cluster) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cur
	if c == nil {
		return errNotLeading
	}
	if err := authorize(m, r, chk, c, req); err != nil {
		return err
	}
	return fn(c)
}

// forbidden is a refusal that no grant could lift: an identity mismatch.
func forbidden(format string, args ...any) error {
	return &httpError{http.StatusForbidden, fmt.Sprintf(format, args...)}
}

// asAgent lets only the agent whose certificate names the request's agent
// ID through, as Kubernetes' node authorizer does: an agent acts only as
// itself, so it can neither take another's commands nor report its tasks.
func asAgent[Req any](agentID func(*Req) string) check[Req] {
	return func(m *Master, who auth.Principal, _ *cluster, req *Req) error {
		id := agentID(req)
		if who.Kind == auth.KindAgent && who.Name == id {
			return nil
		}
		if validID("agent_id", id) != nil {
			return nil // no agent has it: the handler says what is wrong (400)
		}
		return forbidden("principal %s may not act as agent %q: an agent acts only as the agent ID in its certificate", who, id)
	}
}

// ownFramework lets only the framework's principal act for it. An unknown
// framework is left to the handler (404).
func ownFramework[Req any](frameworkID func(*Req) string) check[Req] {
	return func(m *Master, who auth.Principal, c *cluster, req *Req) error {
		_, err := owned(c, who, frameworkID(req))
		return err
	}
}

// owned returns the framework's owner, and an error unless it is who.
func owned(c *cluster, who auth.Principal, frameworkID string) (string, error) {
	f, ok := c.frameworks[frameworkID]
	if !ok {
		return "", nil
	}
	if f.rec.Principal != owner(who) {
		return f.rec.Principal, forbidden("framework %q belongs to principal %s, not %s", frameworkID, orAnonymous(f.rec.Principal), who)
	}
	return f.rec.Principal, nil
}

// owner is how a principal is kept in a framework record: "" on an
// insecure master.
func owner(p auth.Principal) string {
	if p == auth.Anonymous {
		return ""
	}
	return p.String()
}

func orAnonymous(s string) string {
	if s == "" {
		return auth.Anonymous.String()
	}
	return s
}

// maySubscribe: a known framework only by its principal, and registering
// under the role and weight needs a register_frameworks grant (checked
// again at every subscription, as Mesos does at re-registration).
func maySubscribe(m *Master, who auth.Principal, c *cluster, req *api.Subscribe) error {
	if _, err := owned(c, who, req.FrameworkID); err != nil {
		return err
	}
	normalizeSubscribe(req)
	return m.cfg.ACL.Allow(who, auth.Request{Action: auth.RegisterFrameworks, Role: req.Role, Weight: req.Weight})
}

// mayAccept: the framework's own principal, with a run_tasks grant for
// the user of every task.
func mayAccept(m *Master, who auth.Principal, c *cluster, req *api.Accept) error {
	if _, err := owned(c, who, req.FrameworkID); err != nil {
		return err
	}
	for i, t := range req.Tasks {
		if err := m.cfg.ACL.Allow(who, auth.Request{Action: auth.RunTasks, User: t.User}); err != nil {
			return fmt.Errorf("tasks[%d]: %w", i, err)
		}
	}
	return nil
}

// mayKill: a framework kills its own tasks; anyone else needs a kill_tasks
// grant over the framework's principal.
func mayKill(m *Master, who auth.Principal, c *cluster, req *api.Kill) error {
	return ownerOrGrant(m, who, c, req.FrameworkID, auth.KillTasks)
}

// mayTeardown: a framework tears itself down; anyone else needs a
// teardown_frameworks grant over the framework's principal.
func mayTeardown(m *Master, who auth.Principal, c *cluster, req *api.Teardown) error {
	return ownerOrGrant(m, who, c, req.FrameworkID, auth.TeardownFrameworks)
}

func ownerOrGrant(m *Master, who auth.Principal, c *cluster, frameworkID string, action auth.Action) error {
	own, err := owned(c, who, frameworkID)
	if err == nil {
		return nil
	}
	p, perr := auth.ParsePrincipal(own)
	if perr != nil {
		p = auth.Anonymous // a framework subscribed on an insecure master
	}
	return m.cfg.ACL.Allow(who, auth.Request{Action: action, Owner: p})
}

// granted lets through principals a grant allows the action, which has no
// object (update_maintenance: drains and maintenance windows).
func granted[Req any](action auth.Action) check[Req] {
	return func(m *Master, who auth.Principal, _ *cluster, _ *Req) error {
		return m.cfg.ACL.Allow(who, auth.Request{Action: action})
	}
}

// mayReadLogs: a task's logs go to its framework's principal, and to
// principals granted get_state (operators, the dashboard).
func (m *Master) mayReadLogs(who auth.Principal, c *cluster, taskID string) error {
	if m.cfg.Insecure {
		return nil
	}
	fwID := ""
	if t, ok := c.tasks[taskID]; ok {
		fwID = t.Info.FrameworkID
	} else {
		for i := len(c.ended) - 1; i >= 0; i-- {
			if c.ended[i].TaskID == taskID {
				fwID = c.ended[i].FrameworkID
				break
			}
		}
	}
	if f, ok := c.frameworks[fwID]; ok && f.rec.Principal == owner(who) {
		return nil
	}
	return m.cfg.ACL.Allow(who, auth.Request{Action: auth.GetState})
}

// allow serves next to principals granted action (get_state: the state and
// /metrics), and 403 to others.
func (m *Master) allow(action auth.Action, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.cfg.Insecure {
			if err := m.cfg.ACL.Allow(auth.PrincipalFrom(r.Context()), auth.Request{Action: action}); err != nil {
				auth.WriteError(w, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hostOf returns the host name of a URL, for the Guard's Host check.
func hostOf(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return parsed.Hostname()
}
