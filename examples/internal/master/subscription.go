package master

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/offer"
)

// subscription is one framework's event stream. Events queue without bound
// (a framework that stops reading is cut off by its TCP window, not by
// dropping events) and are written by the subscribe handler.
type subscription struct {
	mu     sync.Mutex
	queue  []api.Event
	wake   chan struct{} // has one slot: a pending wake-up
	done   chan struct{}
	closed bool
}

func newSubscription() *subscription {
	return &subscription{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (s *subscription) push(ev api.Event) {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscription) drain() []api.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

func (s *subscription) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// handleSubscribe registers or resumes a framework and streams its events,
// one JSON object a line, until the client goes, the framework subscribes
// again elsewhere, or this master stops leading.
func (m *Master) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	var req api.Subscribe
	if err := api.DecodeRequest(w, r, &req); err != nil {
		m.writeError(w, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		m.writeError(w, fmt.Errorf("response writer cannot stream"))
		return
	}
	var (
		c   *cluster
		f   *framework
		sub *subscription
	)
	err := locked(m, r, maySubscribe, &req, func(cur *cluster) (err error) {
		c = cur
		f, sub, err = m.subscribe(r, c, &req)
		return err
	})
	if err != nil {
		m.writeError(w, err)
		return
	}
	defer m.unsubscribe(c, f, sub)

	w.Header().Set("Content-Type", api.ContentTypeStream)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	enc := json.NewEncoder(w)
	heartbeat := time.NewTicker(m.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	for {
		for _, ev := range sub.drain() {
			if err := enc.Encode(ev); err != nil {
				return
			}
		}
		flusher.Flush()
		select {
		case <-sub.wake:
		case <-heartbeat.C:
			sub.push(api.Event{Type: api.EventHeartbeat})
		case <-sub.done:
			// Send what is queued, then end the stream.
			for _, ev := range sub.drain() {
				_ = enc.Encode(ev)
			}
			flusher.Flush()
			return
		case <-r.Context().Done():
			return
		}
	}
}

// subscribe validates req and connects the framework; called under m.mu.
func (m *Master) subscribe(r *http.Request, c *cluster, req *api.Subscribe) (*framework, *subscription, error) {
	if req.Name == "" {
		return nil, nil, badRequest("name: missing")
	}
	if req.Weight < 0 || req.Weight > 1e6 {
		return nil, nil, badRequest("weight %v: must be between 0 and 1e6", req.Weight)
	}
	normalizeSubscribe(req)
	if err := validID("role", req.Role); err != nil {
		return nil, nil, err
	}
	if req.FrameworkID == "" {
		for {
			// Random, so that an ID tells nothing and cannot be guessed
			// (it is bound to its principal all the same).
			req.FrameworkID = newFrameworkID()
			if _, taken := c.frameworks[req.FrameworkID]; !taken {
				break
			}
		}
	} else if err := validID("framework_id", req.FrameworkID); err != nil {
		return nil, nil, err
	}
	f, ok := c.frameworks[req.FrameworkID]
	if ok && (f.rec.Role != req.Role) {
		return nil, nil, conflict("framework %q: role %q cannot change to %q", req.FrameworkID, f.rec.Role, req.Role)
	}
	rec := frameworkRecord{ID: req.FrameworkID, Name: req.Name, Role: req.Role, Weight: req.Weight, Principal: owner(auth.PrincipalFrom(r.Context()))}
	if !ok || f.rec != rec {
		if err := m.save(r.Context(), c, putJSON(m.key("frameworks", rec.ID), rec)); err != nil {
			return nil, nil, err
		}
	}
	if !ok {
		if err := c.alloc.AddFramework(offer.Framework{ID: rec.ID, Role: rec.Role, Weight: rec.Weight}); err != nil {
			return nil, nil, err
		}
		f = &framework{rec: rec}
		c.frameworks[rec.ID] = f
	}
	f.rec = rec
	if f.sub != nil {
		f.sub.push(api.Event{Type: api.EventError, Message: "framework subscribed again on another connection"})
		f.sub.close()
	}
	sub := newSubscription()
	f.sub = sub
	_ = c.alloc.Revive(rec.ID)
	tasks := []api.TaskStatus{}
	for _, t := range c.tasks {
		if t.Info.FrameworkID == rec.ID {
			tasks = append(tasks, t.Status)
		}
	}
	sub.push(api.Event{Type: api.EventSubscribed, Subscribed: &api.Subscribed{FrameworkID: rec.ID,
		HeartbeatIntervalSeconds: m.cfg.HeartbeatInterval.Seconds(), MaxPriority: m.maxPriority(rec.Role), Tasks: tasks}})
	m.log.Info("framework subscribed", "framework", rec.ID, "name", rec.Name, "resumed", ok)
	return f, sub, nil
}

// normalizeSubscribe fills in the default role and weight, before the
// request is authorized and applied.
func normalizeSubscribe(req *api.Subscribe) {
	if req.Weight == 0 {
		req.Weight = 1
	}
	if req.Role == "" {
		req.Role = offer.Unreserved
	}
}

// newFrameworkID returns "fw-" and 16 random hex digits.
func newFrameworkID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "fw-" + hex.EncodeToString(b[:])
}

// unsubscribe marks a framework disconnected when its stream ends: its
// offers are taken back and no more are made until it subscribes again.
func (m *Master) unsubscribe(c *cluster, f *framework, sub *subscription) {
	sub.close()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != c || f.sub != sub {
		return
	}
	f.sub = nil
	_ = c.alloc.Suppress(f.rec.ID)
	for wire, out := range c.offers {
		if out.offer.FrameworkID == f.rec.ID {
			_, _ = c.alloc.Rescind(out.allocID)
			delete(c.offers, wire)
		}
	}
}
