package framework

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
)

// Marathon's defaults for health checks and the upgrade strategy.
const (
	DefaultGracePeriodSeconds     = 300.0
	DefaultIntervalSeconds        = 60.0
	DefaultTimeoutSeconds         = 20.0
	DefaultMaxConsecutiveFailures = 3
	DefaultDelaySeconds           = 15.0
	DefaultMinimumHealthCapacity  = 1.0
	DefaultMaximumOverCapacity    = 1.0
)

// Kill selections: which tasks a scale down kills first.
const (
	YoungestFirst = "YOUNGEST_FIRST"
	OldestFirst   = "OLDEST_FIRST"
)

// Health check protocols. The MESOS_ forms are Marathon's names for checks
// that Mesos runs on the agent; Gleaner's agent runs every check, so they
// mean the same as the plain forms.
const (
	ProtocolHTTP    = "HTTP"
	ProtocolHTTPS   = "HTTPS"
	ProtocolTCP     = "TCP"
	ProtocolCommand = "COMMAND"
)

// PortDefinition is one host port of each task, as in Marathon.
type PortDefinition struct {
	Port     int               `json:"port"` // 0: any free port
	Protocol string            `json:"protocol,omitempty"`
	Name     string            `json:"name,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// HealthCheck is one of Marathon's app health checks. The agent runs it
// against each task: HTTP, HTTPS and TCP connect to the task's port on the
// agent (portIndex into the app's ports, or a fixed port); COMMAND runs
// command.value with /bin/sh -c inside the task's sandbox. Failures within
// gracePeriodSeconds of the start are ignored until the first success; a
// task that fails maxConsecutiveFailures checks in a row is killed and
// replaced (0: never). Seconds may be fractions, unlike Marathon's whole
// seconds. Fields left out take Marathon's defaults.
type HealthCheck struct {
	Protocol               string        `json:"protocol"`
	Path                   string        `json:"path,omitempty"`
	PortIndex              *int          `json:"portIndex,omitempty"`
	Port                   *int          `json:"port,omitempty"`
	Command                *CheckCommand `json:"command,omitempty"`
	GracePeriodSeconds     *float64      `json:"gracePeriodSeconds,omitempty"`
	IntervalSeconds        *float64      `json:"intervalSeconds,omitempty"`
	TimeoutSeconds         *float64      `json:"timeoutSeconds,omitempty"`
	MaxConsecutiveFailures *int          `json:"maxConsecutiveFailures,omitempty"`
	DelaySeconds           *float64      `json:"delaySeconds,omitempty"`
	IgnoreHTTP1xx          bool          `json:"ignoreHttp1xx,omitempty"`
	IPProtocol             string        `json:"ipProtocol,omitempty"`
}

// CheckCommand is a COMMAND health check's command line.
type CheckCommand struct {
	Value string `json:"value"`
}

// UpgradeStrategy bounds a rolling replacement, as Marathon's does: at
// least ⌈instances × minimumHealthCapacity⌉ tasks stay healthy, and at most
// ⌊instances × (1 + maximumOverCapacity)⌋ run at once. Both are between 0
// and 1.
type UpgradeStrategy struct {
	MinimumHealthCapacity *float64 `json:"minimumHealthCapacity,omitempty"`
	MaximumOverCapacity   *float64 `json:"maximumOverCapacity,omitempty"`
}

// bounds returns the least number of healthy tasks and the most tasks that
// a replacement of n instances keeps to.
func (u *UpgradeStrategy) bounds(n int) (minHealthy, maxCapacity int) {
	minHC, maxOC := DefaultMinimumHealthCapacity, DefaultMaximumOverCapacity
	if u != nil && u.MinimumHealthCapacity != nil {
		minHC = *u.MinimumHealthCapacity
	}
	if u != nil && u.MaximumOverCapacity != nil {
		maxOC = *u.MaximumOverCapacity
	}
	// A little slack, so that 0.5 × 3 is 2 and not 1.5000000001 → 2 by
	// accident of rounding.
	minHealthy = int(math.Ceil(float64(n)*minHC - 1e-9))
	maxCapacity = int(math.Floor(float64(n)*(1+maxOC) + 1e-9))
	return minHealthy, maxCapacity
}

func ptr[T any](v T) *T { return &v }

// normalizeLifecycle fills in Marathon's defaults and moves ports into
// portDefinitions; validate has accepted the app.
func (a *App) normalizeLifecycle() {
	if len(a.Ports) > 0 {
		for _, p := range a.Ports {
			a.PortDefinitions = append(a.PortDefinitions, PortDefinition{Port: p, Protocol: "tcp"})
		}
		a.Ports = nil
	}
	for i := range a.PortDefinitions {
		if a.PortDefinitions[i].Protocol == "" {
			a.PortDefinitions[i].Protocol = "tcp"
		}
	}
	for i := range a.HealthChecks {
		h := &a.HealthChecks[i]
		h.Protocol = canonicalProtocol(h.Protocol)
		fill := func(p **float64, v float64) {
			if *p == nil {
				*p = ptr(v)
			}
		}
		fill(&h.GracePeriodSeconds, DefaultGracePeriodSeconds)
		fill(&h.IntervalSeconds, DefaultIntervalSeconds)
		fill(&h.TimeoutSeconds, DefaultTimeoutSeconds)
		fill(&h.DelaySeconds, DefaultDelaySeconds)
		if h.MaxConsecutiveFailures == nil {
			h.MaxConsecutiveFailures = ptr(DefaultMaxConsecutiveFailures)
		}
		if h.Protocol != ProtocolCommand && h.Port == nil && h.PortIndex == nil {
			h.PortIndex = ptr(0)
		}
		if (h.Protocol == ProtocolHTTP || h.Protocol == ProtocolHTTPS) && h.Path == "" {
			h.Path = "/"
		}
	}
	if a.UpgradeStrategy == nil {
		a.UpgradeStrategy = &UpgradeStrategy{}
	}
	if a.UpgradeStrategy.MinimumHealthCapacity == nil {
		a.UpgradeStrategy.MinimumHealthCapacity = ptr(DefaultMinimumHealthCapacity)
	}
	if a.UpgradeStrategy.MaximumOverCapacity == nil {
		a.UpgradeStrategy.MaximumOverCapacity = ptr(DefaultMaximumOverCapacity)
	}
	if a.KillSelection == "" {
		a.KillSelection = YoungestFirst
	}
	for i, d := range a.Dependencies {
		a.Dependencies[i] = resolveID(a.ID, d)
	}
}

// canonicalProtocol maps Marathon's MESOS_ protocol names to the plain
// ones (the agent runs every check) and an empty one to HTTP.
func canonicalProtocol(p string) string {
	p = strings.TrimPrefix(p, "MESOS_")
	if p == "" {
		return ProtocolHTTP
	}
	return p
}

// resolveID makes a dependency absolute: relative IDs are taken from the
// group holding the app ("/prod/web" with "db" → "/prod/db").
func resolveID(appID, dep string) string {
	if strings.HasPrefix(dep, "/") {
		return path.Clean(dep)
	}
	return path.Clean(path.Join(path.Dir(appID), dep))
}

func (a *App) validateLifecycle() error {
	if len(a.Ports) > 0 && len(a.PortDefinitions) > 0 {
		return fieldErr("ports", "", "give portDefinitions or ports, not both")
	}
	ports := a.PortDefinitions
	for _, p := range a.Ports {
		ports = append(ports, PortDefinition{Port: p})
	}
	names := map[string]bool{}
	fixed := map[int]bool{}
	for i, p := range ports {
		field := fmt.Sprintf("portDefinitions[%d]", i)
		if len(a.Ports) > 0 {
			field = fmt.Sprintf("ports[%d]", i)
		}
		switch {
		case p.Port < 0 || p.Port > 65535:
			return fieldErr(field+".port", fmt.Sprint(p.Port), "must be between 0 and 65535")
		case p.Port != 0 && fixed[p.Port]:
			return fieldErr(field+".port", fmt.Sprint(p.Port), "given twice")
		case a.RequirePorts && p.Port == 0:
			return fieldErr(field+".port", "0", "requirePorts needs every port fixed")
		case p.Protocol != "" && p.Protocol != "tcp" && p.Protocol != "udp" && p.Protocol != "udp,tcp" && p.Protocol != "tcp,udp":
			return fieldErr(field+".protocol", p.Protocol, `must be "tcp", "udp" or "udp,tcp"`)
		case p.Name != "" && !nameText.MatchString(p.Name):
			return fieldErr(field+".name", p.Name, "must be letters, digits, '.', '_' and '-'")
		case p.Name != "" && names[p.Name]:
			return fieldErr(field+".name", p.Name, "given twice")
		}
		fixed[p.Port], names[p.Name] = p.Port != 0, p.Name != ""
	}
	if len(ports) > 0 && len(ports) > maxPorts {
		return fieldErr("portDefinitions", fmt.Sprint(len(ports)), "at most %d ports", maxPorts)
	}
	for i, h := range a.HealthChecks {
		if err := h.validate(fmt.Sprintf("healthChecks[%d]", i), len(ports)); err != nil {
			return err
		}
	}
	if u := a.UpgradeStrategy; u != nil {
		for _, f := range []struct {
			name string
			v    *float64
		}{{"minimumHealthCapacity", u.MinimumHealthCapacity}, {"maximumOverCapacity", u.MaximumOverCapacity}} {
			if f.v != nil && !(*f.v >= 0 && *f.v <= 1) {
				return fieldErr("upgradeStrategy."+f.name, fmt.Sprint(*f.v), "must be between 0 and 1")
			}
		}
	}
	switch a.KillSelection {
	case "", YoungestFirst, OldestFirst:
	default:
		return fieldErr("killSelection", a.KillSelection, `must be "YOUNGEST_FIRST" or "OLDEST_FIRST"`)
	}
	if g := a.TaskKillGracePeriodSeconds; !(g >= 0 && g <= 86400) {
		return fieldErr("taskKillGracePeriodSeconds", fmt.Sprint(g), "must be between 0 and 86400")
	}
	for i, r := range a.AcceptedResourceRoles {
		if r != "*" && !nameText.MatchString(r) {
			return fieldErr(fmt.Sprintf("acceptedResourceRoles[%d]", i), r, `must be "*" or a role name`)
		}
		if slices.Contains(a.AcceptedResourceRoles[:i], r) {
			return fieldErr(fmt.Sprintf("acceptedResourceRoles[%d]", i), r, "given twice")
		}
	}
	if len(a.AcceptedResourceRoles) > 1 && !slices.Contains(a.AcceptedResourceRoles, "*") {
		return fieldErr("acceptedResourceRoles", strings.Join(a.AcceptedResourceRoles, ","), `one role, or any list holding "*", is supported`)
	}
	for i, d := range a.Dependencies {
		dep := resolveID(a.ID, d)
		if _, err := normalizeID(dep); err != nil || dep == "/" {
			return fieldErr(fmt.Sprintf("dependencies[%d]", i), d, "not an app or group ID")
		}
		if dep == a.ID {
			return fieldErr(fmt.Sprintf("dependencies[%d]", i), d, "an app cannot depend on itself")
		}
	}
	return nil
}

// maxPorts bounds the ports of one task.
const maxPorts = 100

func (h *HealthCheck) validate(field string, ports int) error {
	proto := canonicalProtocol(h.Protocol)
	switch proto {
	case ProtocolHTTP, ProtocolHTTPS, ProtocolTCP:
		if h.Command != nil {
			return fieldErr(field+".command", "", "only for protocol COMMAND")
		}
		if h.Port != nil && h.PortIndex != nil {
			return fieldErr(field+".port", fmt.Sprint(*h.Port), "give port or portIndex, not both")
		}
		if h.Port != nil && (*h.Port < 1 || *h.Port > 65535) {
			return fieldErr(field+".port", fmt.Sprint(*h.Port), "must be between 1 and 65535")
		}
		idx := 0
		if h.PortIndex != nil {
			idx = *h.PortIndex
		}
		if h.Port == nil && (idx < 0 || idx >= ports) {
			return fieldErr(field+".portIndex", fmt.Sprint(idx), "the app has %d ports", ports)
		}
		if proto == ProtocolTCP && h.Path != "" {
			return fieldErr(field+".path", h.Path, "only for HTTP and HTTPS")
		}
		if h.Path != "" && (!strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " \x00\r\n")) {
			return fieldErr(field+".path", h.Path, "must be an absolute URL path")
		}
	case ProtocolCommand:
		if h.Command == nil || strings.TrimSpace(h.Command.Value) == "" {
			return fieldErr(field+".command.value", "", "required for protocol COMMAND")
		}
		if strings.ContainsRune(h.Command.Value, 0) {
			return fieldErr(field+".command.value", h.Command.Value, "contains a NUL byte")
		}
		if h.Port != nil || h.PortIndex != nil || h.Path != "" {
			return fieldErr(field+".protocol", h.Protocol, "a COMMAND check takes no port, portIndex or path")
		}
	default:
		return fieldErr(field+".protocol", h.Protocol, "must be HTTP, HTTPS, TCP or COMMAND (or their MESOS_ forms)")
	}
	if h.IPProtocol != "" && h.IPProtocol != "IPv4" {
		return fieldErr(field+".ipProtocol", h.IPProtocol, `only "IPv4" is supported`)
	}
	for _, s := range []struct {
		name string
		v    *float64
		min  float64
	}{
		{"gracePeriodSeconds", h.GracePeriodSeconds, 0}, {"intervalSeconds", h.IntervalSeconds, 0.01},
		{"timeoutSeconds", h.TimeoutSeconds, 0.01}, {"delaySeconds", h.DelaySeconds, 0},
	} {
		if s.v != nil && !(*s.v >= s.min && *s.v <= 86400) {
			return fieldErr(field+"."+s.name, fmt.Sprint(*s.v), "must be between %g and 86400", s.min)
		}
	}
	if m := h.MaxConsecutiveFailures; m != nil && (*m < 0 || *m > 1000) {
		return fieldErr(field+".maxConsecutiveFailures", fmt.Sprint(*m), "must be between 0 and 1000")
	}
	return nil
}

// hasHealthChecks reports whether the app's tasks count as ready only once
// healthy.
func (a *App) hasHealthChecks() bool { return len(a.HealthChecks) > 0 }
