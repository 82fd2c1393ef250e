package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors that a *StatusError matches with errors.Is, by status.
var (
	ErrInvalid   = errors.New("invalid request")      // 400, 413, 415
	ErrNotFound  = errors.New("not found")            // 404: unknown agent, framework, offer or task
	ErrConflict  = errors.New("conflict")             // 409
	ErrNotLeader = errors.New("master is not leader") // 503: ask the leader (StatusError.Leader)
	// ErrUnauthenticated: 401, no valid client certificate or bearer token.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: 403, the principal may not do this; the message names
	// the missing grant or the identity it may act as.
	ErrForbidden = errors.New("forbidden")
)

// StatusError is a non-2xx answer from the master.
type StatusError struct {
	Code    int    // HTTP status
	Message string // ErrorResponse.Error
	Leader  string // ErrorResponse.Leader, on 503
}

func (e *StatusError) Error() string {
	if e.Leader != "" {
		return fmt.Sprintf("master: %d %s: %s (leader %s)", e.Code, http.StatusText(e.Code), e.Message, e.Leader)
	}
	return fmt.Sprintf("master: %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Is matches the sentinels above by status code.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return e.Code == http.StatusBadRequest || e.Code == http.StatusRequestEntityTooLarge ||
			e.Code == http.StatusUnsupportedMediaType
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrConflict:
		return e.Code == http.StatusConflict
	case ErrNotLeader:
		return e.Code == http.StatusServiceUnavailable
	case ErrUnauthenticated:
		return e.Code == http.StatusUnauthorized
	case ErrForbidden:
		return e.Code == http.StatusForbidden
	}
	return false
}
