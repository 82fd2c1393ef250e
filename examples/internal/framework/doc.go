// Package framework is Gleaner's Marathon-like framework: it keeps apps
// (Marathon's JSON app definitions) running on a Gleaner master's offers.
//
// The shortest use runs it against a master, with apps from a directory and
// its Marathon-style HTTP API on a loopback port, with the framework
// principal's certificate (package auth):
//
//	id, err := auth.LoadTLS(pki.Files{CA: "ca.pem", Cert: "framework-marathon.pem", Key: "framework-marathon-key.pem"})
//	f, err := framework.New(framework.Config{
//		Masters: []string{"https://127.0.0.1:5050"},
//		TLS:     id,
//		AppsDir: "/etc/gleaner/apps",
//		Listen:  "127.0.0.1:8080",
//	})
//	if err != nil { ... }
//	err = f.Run(ctx)
//
// and then, as an operator (a certificate of the same CA, or a bearer token
// of Config.APITokens):
//
//	curl --cacert ca.pem --cert ops.pem --key ops-key.pem -H 'Content-Type: application/json' -d @web.json https://127.0.0.1:8080/v2/apps
//	curl --cacert ca.pem --cert ops.pem --key ops-key.pem https://127.0.0.1:8080/v2/apps/web
//
// The certificate authenticates the framework to the masters, whose ACL
// grants its principal roles, weights, task users and reading the state
// (from which it learns the agents). The API answers only operators'
// certificates and its tokens, takes writes only as application/json and
// refuses a Host that is not one of its names (no CSRF, no DNS
// rebinding); /ping answers anyone.
//
// # App definitions
//
// App reads Marathon's fields id, cmd, args, cpus, mem, disk, instances,
// constraints ([["rack","GROUP_BY","3"]]), fetch (or the older uris), env,
// labels, backoffSeconds, backoffFactor and maxLaunchDelaySeconds, with
// Marathon's defaults. The task's root filesystem is Gleaner's own field,
// container.rootfs {image, sha256, base, baseVersion}; see App.
//
// # Scheduling
//
// The scheduling core (scheduler.go) is free of I/O, driven by events and
// tested with fake offers:
// it places pending instances with offer.Match (BinPack unless configured
// otherwise), declines unused offers with a refuse time, revives offers
// when instances become pending and suppresses them when none are, restarts
// failed tasks after Marathon's exponential backoff (reset once a task ran
// stably), and kills and re-places a task whose constraints no longer hold
// on its agent after an attribute change (the master's AGENT_CHANGED event,
// or new attributes seen in an offer). Why instances are pending — offer's
// rejection counts such as "cpus: 3, rack GROUP_BY: 1", or the backoff — is
// shown per app in the HTTP API and reported to the master's dashboard.
//
// # Lifecycle
//
// Every change is a deployment with an ID, as in Marathon: creating,
// scaling, updating, restarting and deleting apps, alone or as a group. An
// app being deployed is locked: another change is refused (409) unless
// forced (?force=true), which cancels the deployment in progress. A new
// version replaces tasks by the app's upgradeStrategy: at least
// ⌈instances × minimumHealthCapacity⌉ tasks stay ready (running and, with
// health checks, healthy) and at most ⌊instances × (1 +
// maximumOverCapacity)⌋ exist, so new tasks start and become healthy before
// the old ones go. A scale down kills by killSelection, keeping GROUP_BY
// groups even. Cancelling a deployment rolls it back (the apps get their
// former definition and version, so that their old tasks count as current
// again), or with force just stops it. Group deployments start apps after
// those they depend on. Agents run the health checks and kill a task that
// fails maxConsecutiveFailures of them; its instance is replaced.
//
// # HTTP API
//
//	GET    /v2/apps                       {"apps": [AppStatus...]}
//	POST   /v2/apps                       create an app (201, the app; 409 if it exists)
//	GET    /v2/apps/{id}                  {"app": AppStatus}
//	PUT    /v2/apps/{id}                  partial update, or create (201) {"deploymentId", "version"}
//	                                      (?partialUpdate=false replaces, ?force=true overrides a lock)
//	PATCH  /v2/apps/{id}                  partial update
//	DELETE /v2/apps/{id}                  delete an app and kill its tasks
//	POST   /v2/apps/{id}/restart          replace every task
//	GET    /v2/apps/{id}/tasks            {"tasks": [TaskView...]}
//	DELETE /v2/apps/{id}/tasks[/{task}]   kill (and replace, or with ?scale=true scale down)
//	GET    /v2/deployments                [DeploymentView...]
//	DELETE /v2/deployments/{id}           roll back (?force=true: stop, 202)
//	GET    /v2/groups[/{id}]              the group of apps under an ID
//	POST   /v2/groups, PUT /v2/groups/{id}, DELETE /v2/groups/{id}
//	GET    /v2/queue                      {"queue": [QueueEntry...]}, with processedOffersSummary
//	DELETE /v2/queue/{id}/delay           end an app's launch backoff (204)
//	GET    /v2/tasks                      {"tasks": [TaskView...]}
//	GET    /v2/info                       framework ID, master, connection
//	GET    /ping                          "pong"
//	GET    /metrics                       Prometheus metrics
//
// Bodies are one JSON object of at most api.MaxBodyBytes with Content-Type
// application/json, decoded strictly (api.ReadBody, api.DecodeStrict).
// Errors are 4xx answers with the api.ErrorResponse body {"error": "..."}
// naming the field and value, as the master's and the agent's are; not
// Marathon's {"message": ..., "details": [...]} (with 422 for an invalid
// app), so a Marathon client sees the status but not its error shape.
package framework
