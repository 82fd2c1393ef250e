//go:build linux

package agent

import (
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
)

// HTTP paths the agent serves.
const (
	PathReservation = "/reservation" // operator socket only. GET: ReservationInfo; PUT: ReservationOverride → ReservationInfo
	PathTasks       = "/tasks"       // GET: []api.TaskStatus
	// PathTaskLogs serves a task's stdout or stderr, while it runs and
	// after (api.PathTaskLogs on the master proxies it).
	PathTaskLogs = "/tasks/{id}/logs"
	PathMetrics  = "/metrics"
	PathHealth   = "/healthz"
)

// handler serves the HTTPS endpoint: /tasks, the tasks' logs and /metrics
// to operators and masters (certificates of the cluster's CA), /healthz to
// anyone.
func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathTasks, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, a.taskStatuses())
	})
	mux.HandleFunc("GET "+PathTaskLogs, a.serveLogs)
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	guard := &auth.Guard{TLS: a.cfg.TLS, Insecure: a.cfg.Insecure, Public: []string{PathHealth}}
	return guard.Wrap(operatorsAndMasters(a.cfg.Insecure, mux))
}

// operatorsAndMasters refuses other principals (another agent, a
// framework) with 403.
func operatorsAndMasters(insecure bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.PrincipalFrom(r.Context())
		if !insecure && r.URL.Path != PathHealth && p.Kind != auth.KindOperator && p.Kind != auth.KindMaster {
			api.WriteError(w, http.StatusForbidden, fmt.Errorf("principal %s: the agent's endpoint answers operators and masters", p))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// operatorHandler serves the operator socket: the reservation's bounds,
// the task list and the tasks' logs.
func (a *Agent) operatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathReservation, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, a.reservation())
	})
	mux.HandleFunc("PUT "+PathReservation, a.putReservation)
	mux.HandleFunc("GET "+PathTasks, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, a.taskStatuses())
	})
	mux.HandleFunc("GET "+PathTaskLogs, a.serveLogs)
	return mux
}

func (a *Agent) putReservation(w http.ResponseWriter, r *http.Request) {
	var o ReservationOverride
	if err := api.DecodeRequest(w, r, &o); err != nil {
		api.WriteError(w, http.StatusBadRequest, err)
		return
	}
	info, err := a.setReservation(o)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, info)
}
