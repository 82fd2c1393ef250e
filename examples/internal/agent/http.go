//go:build linux

package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// HTTP paths the agent serves.
const (
	PathReservation = "/reservation" // GET: ReservationInfo; PUT: ReservationOverride → ReservationInfo
	PathTasks       = "/tasks"       // GET: []api.TaskStatus
	PathMetrics     = "/metrics"
	PathHealth      = "/healthz"
)

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathReservation, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Reservation())
	})
	mux.HandleFunc("PUT "+PathReservation, a.putReservation)
	mux.HandleFunc("GET "+PathTasks, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Tasks())
	})
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	return mux
}

func (a *Agent) putReservation(w http.ResponseWriter, r *http.Request) {
	var o ReservationOverride
	if code, err := decodeStrict(w, r, &o); err != nil {
		writeError(w, code, err)
		return
	}
	info, err := a.SetReservation(o)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// decodeStrict reads one JSON object of at most api.MaxBodyBytes with no
// unknown fields, and returns the status to answer when it cannot.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", tooLarge.Limit)
		}
		return http.StatusBadRequest, fmt.Errorf("malformed request body: %w", err)
	}
	if dec.More() {
		return http.StatusBadRequest, errors.New("malformed request body: more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", tooLarge.Limit)
		}
		return http.StatusBadRequest, errors.New("malformed request body: data after the JSON object")
	}
	return 0, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", api.ContentTypeJSON)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, api.ErrorResponse{Error: err.Error()})
}
