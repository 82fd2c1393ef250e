package master

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// handleState answers the dashboard's poll.
func (m *Master) handleState(w http.ResponseWriter, r *http.Request) {
	history := -1
	if h := r.URL.Query().Get("history"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 {
			m.writeError(w, badRequest("history %q: want a count of samples, 0 or more", h))
			return
		}
		history = n
	}
	c := m.lockLeading(w)
	if c == nil {
		return
	}
	st := m.state(c, history)
	m.mu.Unlock()
	api.WriteJSON(w, http.StatusOK, st)
}

// state builds the dashboard's view with at most history samples per
// agent (all when negative); called under m.mu.
func (m *Master) state(c *cluster, history int) api.State {
	now := time.Now()
	st := api.State{MasterID: m.cfg.ID, Leader: m.url, Time: now, Insecure: m.cfg.Insecure, Cluster: m.clusterView(c, now, history),
		Agents: []api.AgentState{}, Frameworks: []api.FrameworkState{}, Tasks: []api.TaskView{},
		Pending: []api.PendingApp{}, Deployments: []api.Deployment{}, Events: append([]api.ClusterEvent{}, c.events...)}
	live := make(map[string]int)
	held := make(map[string]offer.Resources)
	for _, t := range c.tasks {
		live[t.Info.AgentID]++
		held[t.Info.AgentID] = held[t.Info.AgentID].Add(t.res)
		live["fw:"+t.Info.FrameworkID]++
		st.Tasks = append(st.Tasks, t.view(t.Status))
	}
	sort.Slice(st.Tasks, func(i, j int) bool { return st.Tasks[i].TaskID < st.Tasks[j].TaskID })
	for i := len(c.ended) - 1; i >= 0; i-- { // newest ended first
		st.Tasks = append(st.Tasks, c.ended[i])
	}
	for _, a := range c.sortedAgents() {
		hist := a.history
		if history >= 0 && len(hist) > history {
			hist = hist[len(hist)-history:]
		}
		st.Agents = append(st.Agents, api.AgentState{
			ID: a.rec.ID, Hostname: a.rec.Hostname, Endpoint: a.rec.Endpoint, Up: a.up,
			Attributes: copyMap(m.attributes(a)), Isolation: a.isolation,
			Capacity: scalars(a.capacity), Reservation: scalars(a.total), Business: scalars(a.business),
			Harvested: scalars(a.harvested), Allocated: scalars(held[a.rec.ID]),
			Tasks: live[a.rec.ID], LastReport: a.lastReport, Maintenance: c.maintenanceOf(a.rec.ID),
			History: append([]api.UsageSample{}, hist...),
		})
	}
	ids := make([]string, 0, len(c.frameworks))
	for id := range c.frameworks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := c.frameworks[id]
		share, _ := c.alloc.Share(id)
		withheld, _ := c.alloc.Withheld(id)
		st.Frameworks = append(st.Frameworks, api.FrameworkState{ID: id, Name: f.rec.Name, Role: f.rec.Role,
			Weight: f.rec.Weight, Share: share, Connected: f.sub != nil, Tasks: live["fw:"+id],
			Withheld: api.Rejections(withheld)})
		st.Pending = append(st.Pending, f.pending...)
		st.Deployments = append(st.Deployments, f.deployments...)
	}
	return st
}
