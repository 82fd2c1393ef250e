#!/bin/sh
# A Marathon client of plain curl calls, written from Marathon 1.x's REST
# API documentation (apps, deployments, queue), as a user's deploy script
# would be. It drives one app through create, scale, update, restart,
# rollback, kill-and-scale and delete, and checks Marathon's answers:
# status codes, deploymentId and version.
#
#   MARATHON=http://127.0.0.1:8080 sh client.sh
#
# CURL_OPTS passes more options to curl (--cacert, --cert, --key once the
# API takes TLS). It prints one line per check and exits non-zero if any
# failed.
set -u
M=${MARATHON:?set MARATHON to the framework URL}
APP=${APP:-/compat/client}
WAIT=${WAIT:-300}
pass=0
fail=0

# req METHOD PATH [BODY]: sets CODE and BODY.
req() {
	if [ $# -ge 3 ]; then
		out=$(curl -sS ${CURL_OPTS:-} -X "$1" -H 'Content-Type: application/json' -d "$3" -w '\n%{http_code}' "$M$2")
	else
		out=$(curl -sS ${CURL_OPTS:-} -X "$1" -w '\n%{http_code}' "$M$2")
	fi
	CODE=$(printf '%s\n' "$out" | tail -n 1)
	BODY=$(printf '%s\n' "$out" | sed '$d' | tr -d '\n')
}

ok() { pass=$((pass + 1)); echo "ok: $1"; }
no() { fail=$((fail + 1)); echo "FAIL: $1"; }

# expect WHAT CODE: the last request answered CODE.
expect() {
	if [ "$CODE" = "$2" ]; then ok "$1 ($CODE)"; else no "$1: status $CODE, want $2: $BODY"; fi
}

# field NAME: the first value of NAME in the last body (string or number).
field() {
	printf '%s' "$BODY" | grep -o "\"$1\": *\"\{0,1\}[^\",}]*" | head -n 1 | sed 's/^[^:]*: *"\{0,1\}//' 
}

# check WHAT NAME WANT: field NAME of the last body is WANT.
check() {
	got=$(field "$2")
	if [ "$got" = "$3" ]; then ok "$1 ($2=$got)"; else no "$1: $2=$got, want $3"; fi
}

# deployed WHAT: the last body named a deployment and a version.
deployed() {
	DEPLOYMENT=$(field deploymentId)
	VERSION=$(field version)
	if [ -n "$DEPLOYMENT" ] && [ -n "$VERSION" ]; then ok "$1 started deployment $DEPLOYMENT"; else no "$1: no deploymentId/version in $BODY"; fi
}

# settle WHAT: wait until no deployment is in progress.
settle() {
	i=0
	while [ $i -lt $((WAIT * 5)) ]; do
		req GET /v2/deployments
		if [ "$CODE" = 200 ] && [ "$BODY" = "[]" ]; then ok "$1 done"; return; fi
		sleep 0.2
		i=$((i + 1))
	done
	no "$1: deployments still running after ${WAIT}s: $BODY"
}

# counts WHAT RUNNING HEALTHY: the app runs and is healthy as wanted.
counts() {
	req GET "/v2/apps$APP"
	check "$1: running" tasksRunning "$2"
	check "$1: healthy" tasksHealthy "$3"
}

app='{"id": "'$APP'", "cmd": "sleep 100000", "cpus": 0.05, "mem": 16, "instances": 2,
  "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}, "gracePeriodSeconds": 60,
    "intervalSeconds": 2, "timeoutSeconds": 10, "maxConsecutiveFailures": 3}]}'

req POST /v2/apps "$app"
expect "create" 201
case $BODY in *'"deployments"'*'"id"'*) ok "create names its deployment" ;; *) no "create: no deployments in $BODY" ;; esac
req POST /v2/apps "$app"
expect "create again" 409
settle "create"
counts "create" 2 2

req PUT "/v2/apps$APP" '{"instances": 3}'
expect "scale with a partial PUT" 200
deployed "scale"
settle "scale"
counts "scale" 3 3

req GET "/v2/apps$APP"
before=$(field version)
req PUT "/v2/apps$APP" '{"cmd": "sleep 100001"}'
expect "update" 200
deployed "update"
settle "update"
req GET "/v2/apps$APP"
check "update: new command" cmd "sleep 100001"
if [ "$(field version)" != "$before" ]; then ok "update: new version"; else no "update: version unchanged"; fi
counts "update" 3 3

req POST "/v2/apps$APP/restart"
expect "restart" 200
deployed "restart"
settle "restart"
counts "restart" 3 3

# A version whose tasks never become healthy holds its deployment (the
# default minimumHealthCapacity 1 keeps every old task), until rolled back.
req PUT "/v2/apps$APP" '{"healthChecks": [{"protocol": "COMMAND", "command": {"value": "false"},
  "gracePeriodSeconds": 600, "intervalSeconds": 1, "maxConsecutiveFailures": 0}]}'
expect "bad update" 200
deployed "bad update"
bad=$DEPLOYMENT
req GET /v2/deployments
case $BODY in *"$bad"*) ok "the bad update is listed" ;; *) no "deployments lack $bad: $BODY" ;; esac
req PUT "/v2/apps$APP" '{"instances": 4}'
expect "change while locked" 409
req GET /v2/queue
expect "queue" 200
req DELETE "/v2/deployments/$bad"
expect "rollback" 200
deployed "rollback"
settle "rollback"
req GET "/v2/apps$APP"
if printf '%s' "$BODY" | grep -q '"value": *"true"'; then ok "rollback: the old health check is back"; else no "rollback: $BODY"; fi
counts "rollback" 3 3

req GET "/v2/apps$APP/tasks"
expect "tasks" 200
task=$(field id)
req DELETE "/v2/apps$APP/tasks/$task?scale=true"
expect "kill a task and scale" 200
deployed "kill and scale"
settle "kill and scale"
req GET "/v2/apps$APP"
check "kill and scale: instances" instances 2

req DELETE "/v2/apps$APP"
expect "delete" 200
deployed "delete"
settle "delete"
req GET "/v2/apps$APP"
expect "deleted app" 404
req DELETE /v2/deployments/no-such-deployment
expect "unknown deployment" 404

echo "marathon-client: $pass passed, $fail failed"
[ "$fail" = 0 ]
