package attrs

import "strings"

// keyspace maps agents and attribute names to etcd keys:
//
//	<prefix>/agents/<agent-id>/attributes/<name>  one key per attribute
//	<prefix>/agents/<agent-id>/alive              under the agent's lease
//
// One key per attribute makes setting or deleting an attribute one etcd
// operation, which an operator can also do with etcdctl.
type keyspace struct{ prefix string }

const (
	attributesSegment = "/attributes/"
	aliveSuffix       = "/alive"
)

// agents is the prefix of every key the package writes.
func (k keyspace) agents() string { return k.prefix + "/agents/" }

func (k keyspace) attributes(agent string) string { return k.agents() + agent + attributesSegment }

func (k keyspace) attribute(agent, name string) string { return k.attributes(agent) + name }

func (k keyspace) alive(agent string) string { return k.agents() + agent + aliveSuffix }

// parse splits a key under agents() into the agent and, for an attribute key,
// the name. alive is true for the liveness key. ok is false for keys that are
// neither (written by something else), which callers ignore.
func (k keyspace) parse(key string) (agent, name string, alive, ok bool) {
	rest, ok := strings.CutPrefix(key, k.agents())
	if !ok {
		return "", "", false, false
	}
	agent, rest, ok = strings.Cut(rest, "/")
	if !ok || agent == "" {
		return "", "", false, false
	}
	if rest == "alive" {
		return agent, "", true, true
	}
	name, ok = strings.CutPrefix(rest, "attributes/")
	if !ok || ValidateName(name) != nil {
		return "", "", false, false
	}
	return agent, name, false, true
}
