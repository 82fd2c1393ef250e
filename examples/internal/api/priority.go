package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// PriorityLabel is the label that gives an app's or a job's tasks their
// priority where the definition has no priority field (Marathon has none),
// as Marathon's HAPROXY_* labels steer a load balancer.
const PriorityLabel = "GLEANER_PRIORITY"

// MaxPriority bounds every task priority; the master bounds each role's
// frameworks lower (Subscribed.MaxPriority).
const MaxPriority = 1000000

// ResolvePriority returns the priority an app or job definition gives its
// tasks: field (its "priority"), or else the PriorityLabel label. Both may
// be given only if they agree. The error is a *RequestError naming the
// field and the value.
func ResolvePriority(field int, labels map[string]string) (int, error) {
	p := field
	if text, ok := labels[PriorityLabel]; ok {
		bad := func(format string, args ...any) error {
			return &RequestError{Code: http.StatusBadRequest, Field: "labels." + PriorityLabel,
				Reason: fmt.Sprintf("%q: ", text) + fmt.Sprintf(format, args...)}
		}
		v, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return 0, bad("want a whole number")
		}
		if field != 0 && field != v {
			return 0, bad("priority is %d: give one, or the same in both", field)
		}
		p = v
	}
	if p < 0 || p > MaxPriority {
		return 0, &RequestError{Code: http.StatusBadRequest, Field: "priority",
			Reason: fmt.Sprintf("%d: must be between 0 and %d", p, MaxPriority)}
	}
	return p, nil
}
