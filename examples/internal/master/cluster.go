package master

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// Keep at most this many ended tasks and cluster events for the dashboard.
const (
	keepEnded  = 200
	keepEvents = 200
)

// cluster is the leader's state for one term. Every field is guarded by
// Master.mu; the allocator has its own lock but is only called under mu.
type cluster struct {
	term   int64 // the election revision: unique per term
	el     *concurrency.Election
	lost   chan struct{} // closed when a guarded write fails
	lostAt bool
	// allocNow asks the leader's loop for an allocation round before the
	// next tick (see allocateSoon); buffered, so requests coalesce.
	allocNow chan struct{}

	alloc      *offer.Allocator
	agents     map[string]*agent
	frameworks map[string]*framework
	tasks      map[string]*task       // non-terminal tasks
	offers     map[string]outstanding // by wire offer ID
	// maintenance holds the agents' drains and maintenance windows, by
	// agent ID (maintenance.go).
	maintenance map[string]*maintenanceState
	ended       []api.TaskView     // recently ended tasks, oldest first
	events      []api.ClusterEvent // recent, oldest first
}

// allocateSoon asks for an allocation round now rather than at the next
// tick: when a framework revives (it has new pending work) or resources come
// free (a task ended, an agent registered). As Mesos allocates on
// reviveOffers, this takes up to one allocation interval off a task's way to
// its new agent; requests made while a round is pending coalesce into it.
func (c *cluster) allocateSoon() {
	select {
	case c.allocNow <- struct{}{}:
	default:
	}
}

// outstanding is an offer sent to a framework and not yet answered.
type outstanding struct {
	allocID   string // the allocator's offer ID
	offer     offer.Offer
	revocable bool // api.Offer.Revocable: tasks launched on it are revocable
}

// agentRecord is what is kept of an agent in etcd.
type agentRecord struct {
	ID          string            `json:"id"`
	Hostname    string            `json:"hostname"`
	Endpoint    string            `json:"endpoint,omitempty"`
	Capacity    string            `json:"capacity,omitempty"`
	Reservation string            `json:"reservation"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

type agent struct {
	rec        agentRecord
	up         bool // registered and not gone
	since      time.Time
	total      offer.Resources // the reservation the allocator holds
	capacity   offer.Resources
	business   offer.Resources
	harvested  offer.Resources
	guaranteed offer.Resources // lent whatever the business does (AgentReport.Guaranteed)
	isolation  string
	inEtcd     bool // etcd has held attributes of the agent
	lastReport time.Time
	history    []api.UsageSample

	cmds   []api.AgentCommand
	notify chan struct{} // closed and replaced when cmds grow
}

func newAgent(rec agentRecord) *agent {
	return &agent{rec: rec, notify: make(chan struct{})}
}

// send queues a command and wakes a waiting poll.
func (a *agent) send(cmd api.AgentCommand) {
	a.cmds = append(a.cmds, cmd)
	a.wake()
}

func (a *agent) wake() {
	close(a.notify)
	a.notify = make(chan struct{})
}

func (a *agent) take() []api.AgentCommand {
	cmds := a.cmds
	a.cmds = nil
	if cmds == nil {
		cmds = []api.AgentCommand{}
	}
	return cmds
}

// frameworkRecord is what is kept of a framework in etcd.
type frameworkRecord struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Role   string  `json:"role"`
	Weight float64 `json:"weight"`
	// Principal subscribed the framework ("kind/name"; empty on an insecure
	// master); only it may subscribe it again and act for it.
	Principal string `json:"principal,omitempty"`
}

type framework struct {
	rec         frameworkRecord
	sub         *subscription // nil while disconnected
	pending     []api.PendingApp
	deployments []api.Deployment // as the framework last reported them
}

// taskRecord is what is kept of a task in etcd.
type taskRecord struct {
	Info       api.TaskInfo   `json:"info"`
	Status     api.TaskStatus `json:"status"`
	Hostname   string         `json:"hostname"`
	Sent       time.Time      `json:"sent"`
	KillReason string         `json:"kill_reason,omitempty"`
}

type task struct {
	taskRecord
	res offer.Resources
	// attributed is true when the allocator counts res as the framework's
	// (it was accepted in this term); tasks loaded from etcd are counted as
	// held by the agent only, see resyncAgent.
	attributed bool
}

func (m *Master) key(kind, id string) string {
	return m.cfg.Prefix + "/master/" + kind + "/" + id
}

// loadCluster reads the master state from etcd at the start of a term.
func (m *Master) loadCluster(ctx context.Context, el *concurrency.Election) (*cluster, error) {
	c := &cluster{
		term:       el.Rev(),
		el:         el,
		lost:       make(chan struct{}),
		allocNow:   make(chan struct{}, 1),
		alloc:      offer.NewAllocator(offer.WithDefaultRefuse(m.cfg.Refuse)),
		agents:     make(map[string]*agent),
		frameworks: make(map[string]*framework),
		tasks:      make(map[string]*task),
		offers:     make(map[string]outstanding),

		maintenance: make(map[string]*maintenanceState),
	}
	resp, err := m.cfg.Etcd.Get(ctx, m.cfg.Prefix+"/master/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read master state: %w", err)
	}
	now := time.Now()
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), m.cfg.Prefix+"/master/")
		kind, id, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		switch kind {
		case "agents":
			var rec agentRecord
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				m.log.Warn("skip unreadable agent record", "key", string(kv.Key), "err", err)
				continue
			}
			a := newAgent(rec)
			a.total, _ = offer.ParseResources(rec.Reservation)
			a.capacity, _ = offer.ParseResources(rec.Capacity)
			a.up, a.since = true, now // until etcd liveness or silence says otherwise
			c.agents[id] = a
		case "frameworks":
			var rec frameworkRecord
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				m.log.Warn("skip unreadable framework record", "key", string(kv.Key), "err", err)
				continue
			}
			c.frameworks[id] = &framework{rec: rec}
		case "tasks":
			var rec taskRecord
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				m.log.Warn("skip unreadable task record", "key", string(kv.Key), "err", err)
				continue
			}
			t := &task{taskRecord: rec}
			t.res, _ = offer.ParseResources(rec.Info.Resources)
			t.Sent = now // give the agents a grace period to report the task
			c.tasks[id] = t
		case "maintenance":
			var rec maintenanceRecord
			if err := json.Unmarshal(kv.Value, &rec); err != nil || rec.AgentID != id {
				m.log.Warn("skip unreadable maintenance record", "key", string(kv.Key), "err", err)
				continue
			}
			c.maintenance[id] = &maintenanceState{rec: rec}
		}
	}
	for _, f := range c.frameworks {
		if err := c.alloc.AddFramework(offer.Framework{ID: f.rec.ID, Role: f.rec.Role, Weight: f.rec.Weight}); err != nil {
			return nil, err
		}
		// Disconnected until it subscribes again.
		_ = c.alloc.Suppress(f.rec.ID)
	}
	for id, a := range c.agents {
		total := c.offerable(a)
		if err := c.alloc.AddAgent(offer.Agent{ID: id, Hostname: a.rec.Hostname, Total: total,
			Free: total.Subtract(c.heldOn(id))}); err != nil {
			return nil, err
		}
	}
	m.log.Info("state loaded", "agents", len(c.agents), "frameworks", len(c.frameworks), "tasks", len(c.tasks))
	return c, nil
}

// heldOn sums the resources of the live tasks on an agent.
func (c *cluster) heldOn(agentID string) offer.Resources {
	var sum offer.Resources
	for _, t := range c.tasks {
		if t.Info.AgentID == agentID {
			sum = sum.Add(t.res)
		}
	}
	return sum
}

// save writes records to etcd in one transaction that succeeds only while
// this term's leader key exists, so a deposed master cannot overwrite its
// successor. A failed guard ends the term.
func (m *Master) save(ctx context.Context, c *cluster, ops ...clientv3.Op) error {
	if len(ops) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := m.cfg.Etcd.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(c.el.Key()), "=", c.el.Rev())).
		Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("write state to etcd: %w", err)
	}
	if !resp.Succeeded {
		if !c.lostAt {
			c.lostAt = true
			close(c.lost)
		}
		return errNotLeading
	}
	return nil
}

func putJSON(key string, v any) clientv3.Op {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // records are plain structs of strings and maps
	}
	return clientv3.OpPut(key, string(data))
}

// event records a cluster event for the dashboard.
func (c *cluster) event(e api.ClusterEvent) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	c.events = append(c.events, e)
	if n := len(c.events) - keepEvents; n > 0 {
		c.events = append(c.events[:0], c.events[n:]...)
	}
}

// attributes returns the agent's attributes: etcd's through the cluster
// view once etcd has held any for the agent (so that deleting the last one
// leaves none), else those the agent registered with.
func (m *Master) attributes(a *agent) map[string]string {
	v, ok := m.view.Agent(a.rec.ID)
	if ok && len(v.Attributes) > 0 {
		a.inEtcd = true
	}
	if a.inEtcd {
		return v.Attributes
	}
	return a.rec.Attributes
}

// notify queues an event for a framework's stream, if it is connected.
func (c *cluster) notify(frameworkID string, ev api.Event) {
	if f, ok := c.frameworks[frameworkID]; ok && f.sub != nil {
		f.sub.push(ev)
	}
}

// broadcast queues an event for every connected framework.
func (c *cluster) broadcast(ev api.Event) {
	for _, f := range c.frameworks {
		if f.sub != nil {
			f.sub.push(ev)
		}
	}
}

// rescinded tells frameworks about offers the allocator took back, and
// records one dashboard event per agent.
func (c *cluster) rescinded(offers []offer.Offer, why string) {
	if len(offers) == 0 {
		return
	}
	var ids []string
	for i, o := range offers {
		wire := c.wireID(o.ID)
		delete(c.offers, wire)
		c.notify(o.FrameworkID, api.Event{Type: api.EventRescind, OfferID: wire})
		ids = append(ids, wire)
		if i == len(offers)-1 || offers[i+1].AgentID != o.AgentID {
			c.event(api.ClusterEvent{Kind: api.KindRescinded, AgentID: o.AgentID,
				Message: fmt.Sprintf("%s: offer %s rescinded", why, strings.Join(ids, ", "))})
			ids = ids[:0]
		}
	}
}

// wireID is the offer ID frameworks see: the allocator's, made unique
// across terms.
func (c *cluster) wireID(allocID string) string {
	return fmt.Sprintf("o%d-%s", c.term, allocID)
}

// sortedAgents returns the agents by ID.
func (c *cluster) sortedAgents() []*agent {
	out := make([]*agent, 0, len(c.agents))
	for _, a := range c.agents {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rec.ID < out[j].rec.ID })
	return out
}
