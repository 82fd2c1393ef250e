package framework

import (
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// offerStats counts the offers an app's waiting instances were matched
// against, for Marathon's processedOffersSummary.
type offerStats struct {
	processed, unused int
	lastOffers        int // in the latest round
	launched          bool
	lastUsed          time.Time
	lastUnused        time.Time
}

// round records a round of n offers matched for the app's waiting
// instances; used, within the round, that it launched on one of them.
func (o *offerStats) round(now time.Time, n int) {
	if !o.launched && o.lastOffers > 0 {
		o.unused += o.lastOffers
		o.lastUnused = now
	}
	o.processed += n
	o.lastOffers, o.launched = n, false
}

func (o *offerStats) used(now time.Time) { o.launched, o.lastUsed = true, now }

// QueueEntry is an app with instances waiting to launch, as GET /v2/queue
// shows it (Marathon's queue item).
type QueueEntry struct {
	App                    App                    `json:"app"`
	Count                  int                    `json:"count"`
	Delay                  QueueDelay             `json:"delay"`
	Since                  time.Time              `json:"since,omitzero"`
	ProcessedOffersSummary ProcessedOffersSummary `json:"processedOffersSummary"`
	// Reason is Gleaner's summary for people ("cpus: 3, rack GROUP_BY:
	// 1"), as in the app's pending status.
	Reason string `json:"reason"`
}

// QueueDelay is an app's launch backoff.
type QueueDelay struct {
	TimeLeftSeconds int  `json:"timeLeftSeconds"`
	Overdue         bool `json:"overdue"`
}

// ProcessedOffersSummary is Marathon's account of the offers matched
// against an app's waiting instances: in all, those that launched nothing,
// and, for the latest round, how many offers each check processed and
// declined, in Marathon's reason names.
type ProcessedOffersSummary struct {
	ProcessedOffersCount    int             `json:"processedOffersCount"`
	UnusedOffersCount       int             `json:"unusedOffersCount"`
	LastUnusedOfferAt       *time.Time      `json:"lastUnusedOfferAt,omitempty"`
	LastUsedOfferAt         *time.Time      `json:"lastUsedOfferAt,omitempty"`
	RejectSummaryLastOffers []RejectSummary `json:"rejectSummaryLastOffers"`
	Rejections              []api.Rejection `json:"rejections,omitempty"`
}

// RejectSummary is one reason of Marathon's: of the offers that reached its
// check, how many it declined.
type RejectSummary struct {
	Reason    string `json:"reason"`
	Declined  int    `json:"declined"`
	Processed int    `json:"processed"`
}

// marathonReasons are Marathon's offer-match reasons, in the order
// Marathon reports them.
var marathonReasons = []string{
	"UnfulfilledRole", "UnfulfilledConstraint", "NoCorrespondingReservationFound", "AgentMaintenance",
	"InsufficientCpus", "InsufficientMemory", "InsufficientDisk", "InsufficientGpus", "InsufficientPorts",
	"DeclinedScarceResources",
}

// marathonReason names an offer rejection as Marathon does.
func marathonReason(r offer.Rejection) string {
	switch r.Kind {
	case offer.ByRole:
		return "UnfulfilledRole"
	case offer.ByConstraint:
		return "UnfulfilledConstraint"
	case offer.ByFilter:
		return "DeclinedScarceResources"
	}
	switch strings.SplitN(r.Name, "(", 2)[0] {
	case "cpus":
		return "InsufficientCpus"
	case "mem":
		return "InsufficientMemory"
	case "disk":
		return "InsufficientDisk"
	case "gpus":
		return "InsufficientGpus"
	case portsResource:
		return "InsufficientPorts"
	}
	return "Insufficient" + strings.ToUpper(r.Name[:1]) + r.Name[1:]
}

// rejectSummary turns a round's rejections into Marathon's funnel: each
// reason processes what the reasons before it let through.
func rejectSummary(offers int, rs []offer.Rejection) []RejectSummary {
	declined := map[string]int{}
	names := append([]string(nil), marathonReasons...)
	for _, r := range rs {
		name := marathonReason(r)
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		declined[name] += r.Offers
	}
	out := make([]RejectSummary, 0, len(names))
	left := offers
	for _, name := range names {
		d := min(declined[name], left)
		out = append(out, RejectSummary{Reason: name, Declined: d, Processed: left})
		left -= d
	}
	return out
}

// Queue lists the apps with instances waiting to launch, by ID.
func (s *scheduler) Queue() []QueueEntry {
	now := s.cfg.Now()
	out := []QueueEntry{}
	for _, id := range s.appIDs() {
		st := s.apps[id]
		n := s.pendingCount(st)
		if st.deleted || n == 0 {
			continue
		}
		o := st.offerStats
		e := QueueEntry{App: st.app, Count: n, Since: st.pendingSince, Reason: st.pendingReason,
			ProcessedOffersSummary: ProcessedOffersSummary{
				ProcessedOffersCount: o.processed, UnusedOffersCount: o.unused,
				RejectSummaryLastOffers: rejectSummary(o.lastOffers, st.pendingRejections),
				Rejections:              api.Rejections(st.pendingRejections),
			}}
		if !o.lastUsed.IsZero() {
			e.ProcessedOffersSummary.LastUsedOfferAt = &o.lastUsed
		}
		if !o.lastUnused.IsZero() {
			e.ProcessedOffersSummary.LastUnusedOfferAt = &o.lastUnused
		}
		if left := st.delayUntil.Sub(now); left > 0 {
			e.Delay.TimeLeftSeconds = int(math.Ceil(left.Seconds()))
		} else {
			e.Delay.Overdue = true
		}
		if e.Reason == "" {
			e.Reason = "waiting for offers"
		}
		out = append(out, e)
	}
	return out
}

func (f *Framework) serveQueue(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	q := f.sched.Queue()
	f.mu.Unlock()
	api.WriteJSON(w, http.StatusOK, map[string]any{"queue": q})
}

// resetDelay is DELETE /v2/queue/{id}/delay: the app's backoff ends, and
// its waiting instances launch at the next offers (204).
func (f *Framework) resetDelay(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutSuffix(r.PathValue("id"), "/delay")
	if !ok {
		api.WriteError(w, http.StatusNotFound, errNoEndpoint(r))
		return
	}
	id, err := normalizeID(path)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	f.mu.Lock()
	err = f.sched.ResetDelay(id)
	f.mu.Unlock()
	if err != nil {
		writeAPIError(w, err)
		return
	}
	f.poke()
	w.WriteHeader(http.StatusNoContent)
}
