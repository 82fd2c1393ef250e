package framework

import (
	"github.com/gleaner/gleaner/examples/internal/api"

	"math"
	"time"
)

// delay is how long the app waits before its next launch after st.failures
// consecutive failures: backoffSeconds × backoffFactor^(failures-1), capped
// at maxLaunchDelaySeconds, as Marathon computes it.
func (st *appState) delay() time.Duration {
	if st.failures <= 0 {
		return 0
	}
	a := st.app
	d := a.BackoffSeconds * math.Pow(a.BackoffFactor, float64(st.failures-1))
	if d > a.MaxLaunchDelaySeconds || math.IsInf(d, 0) {
		d = a.MaxLaunchDelaySeconds
	}
	return time.Duration(d * float64(time.Second))
}

// resetBackoffIfStable forgets an app's failures once it has run stably: no
// failure for StableAfter and a task (ended, when given, or still running)
// that ran for StableAfter.
func (s *scheduler) resetBackoffIfStable(st *appState, now time.Time, ended *task) {
	stable := s.cfg.StableAfter
	if st.failures == 0 || now.Sub(st.lastFailure) < stable {
		return
	}
	ranLong := func(t *task) bool {
		return t.state == api.TaskRunning && !t.runningSince.IsZero() && now.Sub(t.runningSince) >= stable
	}
	ok := ended != nil && ranLong(ended)
	for _, t := range s.liveTasks(st.app.ID) {
		ok = ok || ranLong(t)
	}
	if ok {
		st.failures, st.delayUntil = 0, time.Time{}
	}
}
