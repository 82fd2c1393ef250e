package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
)

// httpError is an answer other than 200, with a message for the caller.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

var errNotLeading = errors.New("master: no longer leading")

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &httpError{http.StatusConflict, fmt.Sprintf(format, args...)}
}

// routes builds the HTTP handler: the Guard (Host check, the caller's
// principal) in front of every route, and each route's authorization
// (authz.go) before its handler.
func (m *Master) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+api.PathMetrics, m.allow(auth.GetState, promhttp.HandlerFor(m.metrics.reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET "+api.PathHealth, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET "+api.PathLeader, m.handleLeader)
	mux.Handle("GET "+api.PathState, m.allow(auth.GetState, http.HandlerFunc(m.handleState)))
	mux.HandleFunc("GET "+api.PathTaskLogs, m.handleTaskLogs)
	mux.Handle("GET "+api.PathUI+"{$}", dashboardHandler())

	mux.HandleFunc("POST "+api.PathAgentRegister, handle(m, asAgent(func(r *api.RegisterAgent) string { return r.AgentID }), m.register))
	mux.HandleFunc("POST "+api.PathAgentReport, handle(m, asAgent(func(r *api.AgentReport) string { return r.AgentID }), m.report))
	mux.HandleFunc("POST "+api.PathAgentCommands, m.handleCommands)

	mux.HandleFunc("POST "+api.PathSubscribe, m.handleSubscribe)
	mux.HandleFunc("POST "+api.PathAccept, handle(m, mayAccept, m.accept))
	mux.HandleFunc("POST "+api.PathDecline, handle(m, ownFramework(func(r *api.Decline) string { return r.FrameworkID }), m.decline))
	mux.HandleFunc("POST "+api.PathRevive, handle(m, ownFramework(func(r *api.Revive) string { return r.FrameworkID }), m.revive))
	mux.HandleFunc("POST "+api.PathSuppress, handle(m, ownFramework(func(r *api.Suppress) string { return r.FrameworkID }), m.suppress))
	mux.HandleFunc("POST "+api.PathKill, handle(m, mayKill, m.kill))
	mux.HandleFunc("POST "+api.PathPending, handle(m, ownFramework(func(r *api.ReportPending) string { return r.FrameworkID }), m.reportPending))
	mux.HandleFunc("POST "+api.PathTeardown, handle(m, mayTeardown, m.teardown))

	mux.HandleFunc("POST "+api.PathDrain, handle(m, granted[api.DrainAgent](auth.UpdateMaintenance), m.drain))
	mux.HandleFunc("POST "+api.PathUp, handle(m, granted[api.UpAgent](auth.UpdateMaintenance), m.up))
	mux.HandleFunc("POST "+api.PathSchedule, handle(m, granted[api.MaintenanceSchedule](auth.UpdateMaintenance), m.setSchedule))
	mux.Handle("GET "+api.PathSchedule, m.allow(auth.GetState, http.HandlerFunc(m.handleSchedule)))
	guard := &auth.Guard{TLS: m.cfg.TLS, Insecure: m.cfg.Insecure, Tokens: m.cfg.Tokens,
		Hosts:  []string{hostOf(m.url)},
		Public: []string{api.PathHealth, api.PathLeader, api.PathUI}}
	return guard.Wrap(m.instrument(mux))
}

// instrument counts requests by route and status.
func (m *Master) instrument(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := next.Handler(r)
		route := pattern
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		if route == "" {
			route = "other"
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets the subscribe stream flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handle adapts a call that takes one decoded request and runs under the
// master's lock while leading, once chk allowed it.
func handle[Req any](m *Master, chk check[Req], fn func(ctx context.Context, c *cluster, req *Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := api.DecodeRequest(w, r, &req); err != nil {
			m.writeError(w, err)
			return
		}
		var out any
		err := locked(m, r, chk, &req, func(c *cluster) (err error) {
			// Not the request's context: once begun, a change is written
			// to etcd and applied in memory even if the caller goes away.
			out, err = fn(context.WithoutCancel(r.Context()), c, &req)
			return err
		})
		if err != nil {
			m.writeError(w, err)
			return
		}
		if out == nil {
			out = api.Empty{}
		}
		api.WriteJSON(w, http.StatusOK, out)
	}
}

// lockLeading locks m.mu and returns the cluster state while this master
// leads. A follower answers 503 naming the leader instead, and returns nil
// with m.mu unlocked.
func (m *Master) lockLeading(w http.ResponseWriter) *cluster {
	m.mu.Lock()
	if m.cur == nil {
		m.mu.Unlock()
		m.writeError(w, errNotLeading)
		return nil
	}
	return m.cur
}

// writeError answers err with the status that fits it.
func (m *Master) writeError(w http.ResponseWriter, err error) {
	var he *httpError
	var re *api.RequestError
	switch {
	case auth.Status(err) != 0:
		auth.WriteError(w, err)
	case errors.As(err, &he):
		api.WriteError(w, he.code, he)
	case errors.As(err, &re):
		api.WriteError(w, re.Code, err)
	case errors.Is(err, errNotLeading):
		m.mu.Lock()
		leader := m.leader
		m.mu.Unlock()
		if leader == m.url {
			leader = ""
		}
		api.WriteJSON(w, http.StatusServiceUnavailable, api.ErrorResponse{Error: "this master is not the leader", Leader: leader})
	default:
		m.log.Warn("request failed", "err", err)
		api.WriteError(w, http.StatusInternalServerError, err)
	}
}

func (m *Master) handleLeader(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	info := api.LeaderInfo{ID: m.cfg.ID, URL: m.url, IsLeader: m.cur != nil, Leader: m.leader}
	m.mu.Unlock()
	api.WriteJSON(w, http.StatusOK, info)
}

// validID checks a client-chosen ID (task, framework, agent): it becomes
// one segment of an etcd key and a DOM attribute, so it must be short
// printable text without '/' or spaces.
func validID(field, id string) error {
	if id == "" {
		return badRequest("%s: missing", field)
	}
	if len(id) > 200 {
		return badRequest("%s %.32q...: longer than 200 bytes", field, id)
	}
	for _, r := range id {
		if r == '/' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return badRequest("%s %q: must not hold '/', spaces or control characters", field, id)
		}
	}
	return nil
}

// seconds converts an optional refuse time to a duration.
func seconds(field string, s *float64, def time.Duration) (time.Duration, error) {
	if s == nil {
		return def, nil
	}
	if *s < 0 || *s > 365*24*3600 {
		return 0, badRequest("%s %v: must be between 0 and one year", field, *s)
	}
	return time.Duration(*s * float64(time.Second)), nil
}
