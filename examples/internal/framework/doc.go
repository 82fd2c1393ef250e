// Package framework is Gleaner's Marathon-like framework: it keeps apps
// (Marathon's JSON app definitions) running on a Gleaner master's offers.
//
// The shortest use runs it against a master, with apps from a directory and
// its Marathon-style HTTP API on a loopback port:
//
//	f, err := framework.New(framework.Config{
//		Masters: []string{"http://127.0.0.1:5050"},
//		AppsDir: "/etc/gleaner/apps",
//		Listen:  "127.0.0.1:8080",
//	})
//	if err != nil { ... }
//	err = f.Run(ctx)
//
// and then
//
//	curl -X POST -H 'Content-Type: application/json' -d @web.json http://127.0.0.1:8080/v2/apps
//	curl http://127.0.0.1:8080/v2/apps/web     # tasks, pending reasons, lastTaskFailure
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
// # HTTP API
//
//	GET    /v2/apps             {"apps": [AppStatus...]}
//	POST   /v2/apps             create an app (409 if it exists)
//	GET    /v2/apps/{id}        {"app": AppStatus}
//	PUT    /v2/apps/{id}        create or replace an app
//	DELETE /v2/apps/{id}        delete an app and kill its tasks
//	GET    /v2/tasks            {"tasks": [TaskView...]}
//	GET    /v2/info             framework ID, master, connection
//	GET    /ping                "pong"
//	GET    /metrics             Prometheus metrics
//
// Bodies are one JSON object of at most api.MaxBodyBytes with Content-Type
// application/json, decoded strictly (api.ReadBody, api.DecodeStrict).
// Errors are 4xx answers with the api.ErrorResponse body {"error": "..."}
// naming the field and value, as the master's and the agent's are; not
// Marathon's {"message": ..., "details": [...]} (with 422 for an invalid
// app), so a Marathon client sees the status but not its error shape.
package framework
