package framework

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// unsupported are Marathon's app fields that Gleaner does not run. A
// definition that sets one is refused naming it; one that carries it empty
// (as Marathon's own GET answers do: "readinessChecks": [], "gpus": 0) is
// accepted, the field dropped, so that tools that send back what they read
// keep working.
var unsupported = map[string]string{
	"readinessChecks":     "readiness checks are not supported; use healthChecks",
	"ipAddress":           "IP-per-task networking is not supported",
	"residency":           "local persistent volumes are not supported",
	"secrets":             "secrets are not supported",
	"unreachableStrategy": "tasks of an unreachable agent are replaced at once (its liveness lease ends)",
	"gpus":                "agents offer no GPUs",
	"storeUrls":           "storeUrls are not supported; use fetch",
	"executor":            `only the command executor ("" or "//cmd") is supported`,
	"taskStats":           "read-only field",
}

// unsupportedContainer are the fields of Marathon's container that Gleaner
// does not run.
var unsupportedContainer = map[string]string{
	"docker":       `Docker is not supported; give type "MESOS" with container.rootfs`,
	"appc":         "appc images are not supported",
	"volumes":      "container volumes are not supported",
	"portMappings": "port mappings need a container network; use portDefinitions",
}

// screenMarathonFields refuses the Marathon fields Gleaner does not
// support, naming the field and its value, and drops them where they are
// empty. Data that is not a JSON object is returned as it is, for the
// strict decoder to refuse.
func screenMarathonFields(data []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil || top == nil {
		return data, nil
	}
	changed, err := screen(top, "", unsupported)
	if err != nil {
		return nil, err
	}
	if raw, ok := top["container"]; ok {
		var c map[string]json.RawMessage
		if json.Unmarshal(raw, &c) == nil && c != nil {
			if t, ok := c["type"]; ok {
				var typ string
				if json.Unmarshal(t, &typ) == nil && typ != "" && typ != "MESOS" {
					return nil, fieldErr("container.type", typ, `not supported: Gleaner runs tasks in its own containers (type "MESOS", with container.rootfs for the image)`)
				}
			}
			cChanged, err := screen(c, "container.", unsupportedContainer)
			if err != nil {
				return nil, err
			}
			if cChanged {
				top["container"], _ = json.Marshal(c)
				changed = true
			}
		}
	}
	if !changed {
		return data, nil
	}
	return json.Marshal(top)
}

// screen drops the empty unsupported fields of obj and refuses the others.
func screen(obj map[string]json.RawMessage, prefix string, fields map[string]string) (bool, error) {
	changed := false
	for name, why := range fields {
		raw, ok := obj[name]
		if !ok {
			continue
		}
		if !emptyJSON(raw) && !(name == "executor" && (string(raw) == `"//cmd"`)) {
			return false, fieldErr(prefix+name, string(raw), "%s", why)
		}
		delete(obj, name)
		changed = true
	}
	return changed, nil
}

// emptyJSON reports whether raw is null, false, 0, "", [] or {}.
func emptyJSON(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "null", "false", "0", "0.0", `""`:
		return true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// exclusive are fields of which a body sets one form: setting either in a
// partial update drops the other from the current definition.
var exclusive = [][2]string{{"cmd", "args"}, {"fetch", "uris"}, {"portDefinitions", "ports"}}

// mergeApp is Marathon's partial update: the top-level fields of body
// replace those of the current definition, the others stay. The result is
// a whole definition for decodeApp.
func mergeApp(cur App, body []byte) ([]byte, error) {
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(body, &patch); err != nil || patch == nil {
		// Let the strict decoder word the error.
		return body, nil
	}
	base, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return nil, err
	}
	for _, pair := range exclusive {
		for i, name := range pair {
			if raw, ok := patch[name]; ok && !emptyJSON(raw) {
				delete(merged, pair[1-i])
			}
		}
	}
	for k, v := range patch {
		merged[k] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalid, err)
	}
	return out, nil
}
