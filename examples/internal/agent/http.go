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
	PathMetrics     = "/metrics"
	PathHealth      = "/healthz"
)

// handler serves the HTTPS endpoint: /tasks and /metrics to operators and
// masters (certificates of the cluster's CA), /healthz to anyone.
func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathTasks, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, a.taskStatuses())
	})
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

// operatorHandler serves the operator socket: the reservation's bounds, and
// the task list.
func (a *Agent) operatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathReservation, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, a.reservation())
	})
	mux.HandleFunc("PUT "+PathReservation, a.putReservation)
	mux.HandleFunc("GET "+PathTasks, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, a.taskStatuses())
	})
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
