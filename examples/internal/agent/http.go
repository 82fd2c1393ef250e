//go:build linux

package agent

import (
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// HTTP paths the agent serves.
const (
	PathReservation = "/reservation" // GET: ReservationInfo; PUT: ReservationOverride → ReservationInfo
	PathTasks       = "/tasks"       // GET: []api.TaskStatus
	// PathTaskLogs serves a task's stdout or stderr, while it runs and
	// after (api.PathTaskLogs on the master proxies it).
	PathTaskLogs = "/tasks/{id}/logs"
	PathMetrics  = "/metrics"
	PathHealth   = "/healthz"
)

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathReservation, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, a.reservation())
	})
	mux.HandleFunc("PUT "+PathReservation, a.putReservation)
	mux.HandleFunc("GET "+PathTasks, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, a.taskStatuses())
	})
	mux.HandleFunc("GET "+PathTaskLogs, a.serveLogs)
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
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
