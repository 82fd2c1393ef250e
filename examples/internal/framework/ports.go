package framework

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gleaner/gleaner/offer"
)

// portsResource is the name of the ports resource, as in Mesos.
const portsResource = "ports"

// fixedPorts are the host ports an app must have on every agent: its
// port definitions when requirePorts is set; otherwise ports are picked
// from each offer.
func (a *App) fixedPorts() []uint64 {
	if !a.RequirePorts {
		return nil
	}
	var out []uint64
	for _, p := range a.PortDefinitions {
		out = append(out, uint64(p.Port))
	}
	return out
}

// dynamicPorts is how many ports of an app are picked from each offer.
func (a *App) dynamicPorts() int {
	if a.RequirePorts {
		return 0
	}
	return len(a.PortDefinitions)
}

// demand is what one instance asks of an offer: cpus, mem and disk, its
// fixed ports, all in the role it accepts. Ports picked by count are
// offer.Task.Ports.
func (a *App) demand() (offer.Resources, error) {
	res, err := a.resources()
	if err != nil {
		return res, err
	}
	if ports := a.fixedPorts(); len(ports) > 0 {
		var rs []offer.Range
		for _, p := range ports {
			rs = append(rs, offer.Range{Begin: p, End: p})
		}
		pr, err := offer.NewResources(offer.Resource{Name: portsResource, Type: offer.Ranges, Ranges: rs})
		if err != nil {
			return res, err
		}
		res = res.Add(pr)
	}
	role := a.demandRole()
	if role == offer.Unreserved {
		return res, nil
	}
	var rs []offer.Resource
	for _, r := range res.All() {
		r.Role = role
		rs = append(rs, r)
	}
	return offer.NewResources(rs...)
}

// demandRole is the role an app's resources must come from:
// acceptedResourceRoles names one role, or "*" (offer.Unreserved) for any
// role when it is empty or accepts unreserved resources.
func (a *App) demandRole() string {
	if len(a.AcceptedResourceRoles) == 0 || slices.Contains(a.AcceptedResourceRoles, offer.Unreserved) {
		return offer.Unreserved
	}
	return a.AcceptedResourceRoles[0]
}

// launchPorts returns the host ports of a launch in the order of the app's
// port definitions: its fixed ports, or those offer.Match took for it
// (Task.Ports), lowest first.
func (a *App) launchPorts(used offer.Resources) []uint64 {
	if fixed := a.fixedPorts(); len(fixed) > 0 {
		return fixed
	}
	var out []uint64
	for _, r := range used.All() {
		if r.Name != portsResource || r.Type != offer.Ranges {
			continue
		}
		for _, rg := range r.Ranges {
			for p := rg.Begin; p <= rg.End && len(out) < len(a.PortDefinitions); p++ {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// portEnv sets Marathon's port variables: PORT0..N, PORT_<port> for each
// port definition's port when not 0, PORT_<NAME> for named ones, PORT (the
// first) and PORTS (all, comma-separated).
func portEnv(env map[string]string, a *App, ports []uint64) {
	if len(ports) == 0 {
		return
	}
	all := make([]string, len(ports))
	for i, p := range ports {
		v := strconv.FormatUint(p, 10)
		all[i] = v
		env[fmt.Sprintf("PORT%d", i)] = v
		if i < len(a.PortDefinitions) {
			def := a.PortDefinitions[i]
			if def.Port != 0 {
				env[fmt.Sprintf("PORT_%d", def.Port)] = v
			}
			if def.Name != "" {
				env["PORT_"+strings.ToUpper(strings.ReplaceAll(def.Name, "-", "_"))] = v
			}
		}
	}
	env["PORT"] = all[0]
	env["PORTS"] = strings.Join(all, ",")
}
