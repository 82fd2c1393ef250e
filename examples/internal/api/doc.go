// Package api is the wire contract between Gleaner's example master, its
// agents and its frameworks: JSON types, HTTP paths and small Go clients.
//
// # Conventions
//
// Every call is JSON over HTTPS (TLS 1.3; plaintext only with -insecure),
// authenticated by a client certificate of the cluster's CA or, for
// frameworks and operators, a bearer token (package auth). Request bodies are one JSON object sent with
// Content-Type application/json, read with unknown fields refused and at most
// MaxBodyBytes (1 MiB) long. Bad input is answered with a 4xx and an
// ErrorResponse naming the field or ID:
//
//	400 malformed JSON, unknown field, invalid value   (ErrInvalid)
//	401 no valid client certificate or bearer token    (ErrUnauthenticated)
//	403 the principal may not: the message names the   (ErrForbidden)
//	    missing ACL grant, or the identity it may act as
//	404 unknown agent, framework, offer or task         (ErrNotFound)
//	413 body larger than MaxBodyBytes                  (ErrInvalid)
//	415 Content-Type missing or not application/json   (ErrInvalid)
//	421 the Host header is not a name of the server
//	503 this master is not the leader; "leader" names it (ErrNotLeader)
//
// The servers (the master, the agent's /reservation, the framework's
// Marathon-style API) read bodies with DecodeRequest (or ReadBody and
// DecodeStrict) and answer with WriteJSON and WriteError, so all three
// apply these rules alike.
//
// Clients see these as *StatusError, which matches the sentinels with
// errors.Is. The Go clients follow the leader by themselves, but only to
// URLs among the masters they were given: the leader a follower names is
// read from etcd, a hint, not a credential.
//
// Resources travel in Mesos's text syntax ("cpus:2;mem:1024;disk:512",
// offer.ParseResources / offer.Resources.String); attributes as
// map[string]string; times in RFC 3339.
//
// # Agents
//
// An agent registers (PathAgentRegister), keeps its attrs.Registrar lease
// alive in etcd (the master reads liveness from the lease: when it expires,
// the agent's tasks become TASK_LOST with ReasonAgentGone), and reports every
// report interval (PathAgentReport) its reservation, business and harvested
// usage and the full list of its tasks. Commands (LAUNCH, KILL) come back in
// the report's answer and, with less delay, from a long poll
// (PathAgentCommands); each command is delivered once, by one or the other.
//
//	c := api.NewAgentClient([]string{"http://127.0.0.1:5050"})
//	c.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: "cpus:2;mem:2048"})
//	cmds, err := c.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:1;mem:2048", Tasks: statuses})
//	if errors.Is(err, api.ErrNotFound) { /* register again */ }
//	cmds, err = c.Commands(ctx, "a1", 10*time.Second)
//
// A reservation smaller than what is offered rescinds the agent's offers.
// Status reasons for evicted tasks start with ReasonEvicted ("evicted: ...").
//
// # Frameworks
//
// A framework subscribes (PathSubscribe) and reads an event stream, one JSON
// Event per line: SUBSCRIBED first (with its ID and its known tasks), then
// OFFERS, RESCIND, UPDATE (task status), AGENT_CHANGED (an agent's attributes
// changed, with the full new map, or it is gone) and HEARTBEAT. It answers
// offers with Accept (tasks carry the OfferID they use) or Decline (with
// refuse seconds), and may Revive, Suppress, Kill, Teardown, and report why
// apps are pending (PathPending) for the dashboard.
//
//	c := api.NewSchedulerClient(masters)
//	s, _ := c.Subscribe(ctx, api.Subscribe{Name: "marathon", Role: "*", Weight: 1})
//	for { ev, err := s.Next(); ... }
//	c.Accept(ctx, api.Accept{FrameworkID: id, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
//		TaskID: "web.1", AppID: "web", OfferID: o.ID, Cmd: "sleep 1000", Resources: "cpus:0.1;mem:32"}}})
//
// Accepting an offer that was rescinded, declined or already used fails with
// 404 and launches nothing; wait for the next offers. After a master
// failover offers are gone too; resubscribe with the same FrameworkID.
//
// # Maintenance
//
// An operator drains an agent (PathDrain, with an optional deadline) as
// Nomad's node drain and Mesos's maintenance primitives do: the master
// makes no more offers of it and sends frameworks a MAINTENANCE event; the
// frameworks move the tasks there (apps start a replacement elsewhere
// before the old task goes; jobs may finish); at the deadline the master
// kills what is left, with a reason starting ReasonDrained, which
// frameworks do not count against the task. The agent hears it drains in
// the report's answer (ReportResponse.Draining) and reports Drained once it
// holds no task. PathUp ends the drain. A maintenance schedule
// (PathSchedule, Mesos's /maintenance/schedule) plans windows per agent:
// offers carry the agent's next window (Offer.Unavailability), so that
// work that would not finish before it goes elsewhere, and each window
// drains its agents from its start (the deadline) to its end.
//
//	c := api.NewClient(masters)
//	c.Drain(ctx, api.DrainAgent{AgentID: "a1", DeadlineSeconds: &tenMinutes})
//	c.Up(ctx, "a1")
//
// # Dashboard
//
// The master serves the dashboard at PathUI; it polls PathState (State) once
// a second, authenticated by the browser's client certificate or by a
// read-only bearer token given in the address's fragment (PathUI +
// "#token=..."; a principal with a get_state grant). Its elements have
// stable ids and data attributes for tests:
//
//	body[data-loaded="true"]              set after the first successful poll
//	#insecure                              shown (red) when the master runs -insecure
//	#cluster tr[data-resource=cpus|mem|disk]  the cluster's totals, with units
//	  .cluster-capacity .cluster-lent .cluster-harvested .cluster-business .cluster-idle-not-lent
//	  .cluster-ratio-hour .cluster-ratio-day   the harvest ratio, "41.7%"
//	canvas[data-cluster-chart=cpus|mem]    the totals over time, axes with units
//	#leader                                the leader's URL
//	#agents tr[data-agent-id=ID]           one row per agent, data-up="true|false"
//	  .agent-reservation .agent-business .agent-harvested .agent-capacity .agent-attributes
//	  data-draining="true|false" .agent-maintenance (draining, drained, windows)
//	  button.agent-drain[data-action=drain|up]  an operator's drain or up (grant update_maintenance)
//	  canvas[data-agent-chart=ID][data-resource=cpus|mem]  reservation, business and harvested over time
//	#frameworks tr[data-framework-id=ID]
//	  .framework-withheld span.rejection[data-kind=filter|role][data-offers=N]
//	#tasks tr[data-task-id=ID]             data-state="TASK_RUNNING" etc., data-agent-id, data-app-id
//	  .task-state .task-reason .task-winner (evicted: who won) .task-priority
//	  data-priority=N data-revocable="true|false"
//	#tasks tr[data-healthy="true|false|"] .task-health  the agent's health verdict
//	#tasks a.task-logs                     shows the task's last stderr lines in
//	  #task-log-box pre#task-log[data-task-id=ID][data-loaded="true"]
//	#deployments tr[data-deployment-id=ID][data-result="running|finished|cancelled|rolled back"]
//	  .deployment-step .deployment-actions ("Restart app: 40/100 ready, 60 old") .deployment-result
//	#pending tr[data-app-id=ID]            .pending-waiting .pending-reason (text for people)
//	  .pending-rejections span.rejection[data-kind=resource|role|constraint|filter][data-name=NAME][data-offers=N]
//	#events tr[data-event-kind=KIND]       newest first; .event-message .event-winner
//
// # etcd layout
//
// Under the cluster prefix (default "/gleaner"): attrs's keys
// (<prefix>/agents/<id>/attributes/<name>, <prefix>/agents/<id>/alive), the
// master's state as JSON in <prefix>/master/agents/<id>,
// <prefix>/master/frameworks/<id>, <prefix>/master/tasks/<id> and
// <prefix>/master/maintenance/<agent-id> (drains and windows), and the
// leader election under <prefix>/master/election.
package api
