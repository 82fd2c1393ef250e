package framework

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// Marathon's defaults for fields an app definition leaves out.
const (
	defaultCpus                  = 1.0
	defaultMem                   = 128.0 // MiB
	defaultInstances             = 1
	defaultBackoffSeconds        = 1.0
	defaultBackoffFactor         = 1.15
	defaultMaxLaunchDelaySeconds = 300.0
)

// maxInstances bounds an app's instance count, so that a typo cannot ask for
// a billion tasks.
const maxInstances = 10000

// maxAppBytes bounds one app definition, in a file or an HTTP body.
const maxAppBytes = api.MaxBodyBytes

// App is an application definition in Marathon's JSON format: the subset of
// Marathon's fields that Gleaner runs, with Marathon's names and defaults.
//
//	{
//	  "id": "/batch/render",
//	  "cmd": "render --shard $INSTANCE",
//	  "cpus": 0.5, "mem": 256, "disk": 64, "instances": 6,
//	  "constraints": [["rack", "GROUP_BY", "3"]],
//	  "fetch": [{"uri": "https://example.com/assets.tar.gz", "extract": true}],
//	  "env": {"MODE": "batch"},
//	  "labels": {"team": "render"},
//	  "container": {"type": "MESOS", "rootfs": {
//	    "image": "https://example.com/render-1.4.tar.gz",
//	    "sha256": "9f86d0…", "base": "busybox", "baseVersion": "1.36"}},
//	  "backoffSeconds": 1, "backoffFactor": 1.15, "maxLaunchDelaySeconds": 300
//	}
//
// The rootfs image and its version live in container.rootfs, Gleaner's
// counterpart of Marathon's container.docker.image: image is the URI of a
// task image (file://, http(s)://, s3://) layered onto the versioned base
// rootfs named by base and baseVersion. Without a container the task runs on
// the agent's default base.
//
// The lifecycle fields follow Marathon 1.x too: portDefinitions (or the
// older ports) and requirePorts, healthChecks, upgradeStrategy,
// killSelection, taskKillGracePeriodSeconds, acceptedResourceRoles and
// dependencies. Unlike Marathon, an app that names no ports gets none (an
// app of Marathon's gets one port by default), so that batch work needs no
// port resource.
//
// Fields of Marathon that Gleaner does not implement (container.docker,
// readinessChecks, ipAddress, ...) are refused naming the field rather than
// ignored, so that nobody believes they took effect.
type App struct {
	ID          string             `json:"id"`
	Cmd         string             `json:"cmd,omitempty"`
	Args        []string           `json:"args,omitempty"`
	Cpus        float64            `json:"cpus"`
	Mem         float64            `json:"mem"` // MiB
	Disk        float64            `json:"disk"`
	Instances   int                `json:"instances"`
	Constraints []offer.Constraint `json:"constraints,omitempty"`
	Fetch       []Fetch            `json:"fetch,omitempty"`
	// URIs is Marathon's older form of Fetch; Decode moves it into Fetch.
	URIs      []string          `json:"uris,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Container *Container        `json:"container,omitempty"`
	// Priority orders the app's tasks in the agents' QoS evictions: lower
	// goes first (Gleaner's field; Marathon has none). The label
	// GLEANER_PRIORITY (api.PriorityLabel) says the same for clients that
	// cannot send unknown fields. The framework's role bounds it
	// (api.Subscribed.MaxPriority); above that the app stays pending.
	Priority int `json:"priority,omitempty"`
	// User is the user the tasks run as (Marathon's "user"): a name or
	// "uid[:gid]"; empty takes the agent's default, an unprivileged user.
	// The agent refuses root unless its operator allows it for the
	// framework's role.
	User string `json:"user,omitempty"`
	// Networks is Marathon's network list; Gleaner takes at most one, of
	// mode "host" (the default) or "none" (Gleaner's extension: a network
	// namespace with loopback only).
	Networks []Network `json:"networks,omitempty"`

	BackoffSeconds        float64 `json:"backoffSeconds"`
	BackoffFactor         float64 `json:"backoffFactor"`
	MaxLaunchDelaySeconds float64 `json:"maxLaunchDelaySeconds"`

	// PortDefinitions are the host ports each task gets from its offer's
	// ports resource: a port of 0 is any free port, others are fixed
	// when RequirePorts is set (and only hints otherwise, as in Marathon).
	PortDefinitions []PortDefinition `json:"portDefinitions,omitempty"`
	// Ports is Marathon's older form of PortDefinitions; Normalize moves
	// it there.
	Ports        []int `json:"ports,omitempty"`
	RequirePorts bool  `json:"requirePorts,omitempty"`
	// HealthChecks are run by the agent against each task; see
	// HealthCheck.
	HealthChecks []HealthCheck `json:"healthChecks,omitempty"`
	// UpgradeStrategy bounds a rolling replacement (default: Marathon's
	// minimumHealthCapacity 1, maximumOverCapacity 1).
	UpgradeStrategy *UpgradeStrategy `json:"upgradeStrategy,omitempty"`
	// KillSelection picks the victims of a scale down: "YOUNGEST_FIRST"
	// (default) or "OLDEST_FIRST".
	KillSelection string `json:"killSelection,omitempty"`
	// TaskKillGracePeriodSeconds is how long a killed task has between
	// SIGTERM and SIGKILL; 0 means the agent's default.
	TaskKillGracePeriodSeconds float64 `json:"taskKillGracePeriodSeconds,omitempty"`
	// AcceptedResourceRoles are the roles whose resources the app's tasks
	// may use ("*" is unreserved); empty means any.
	AcceptedResourceRoles []string `json:"acceptedResourceRoles,omitempty"`
	// Dependencies are apps or groups (IDs, absolute or relative to this
	// app's group) that a group deployment starts before this app.
	Dependencies []string `json:"dependencies,omitempty"`
}

// Fetch is an artifact fetched into the task's sandbox before it starts.
type Fetch struct {
	URI        string `json:"uri"`
	Executable bool   `json:"executable,omitempty"`
	Extract    bool   `json:"extract,omitempty"`
	Cache      bool   `json:"cache,omitempty"`
	DestPath   string `json:"destPath,omitempty"`
}

// Network is one entry of an app's networks.
type Network struct {
	Mode string `json:"mode"`
}

// Container says what the task's root filesystem is.
type Container struct {
	// Type is "MESOS" (Marathon's name for the Mesos containerizer) or empty.
	Type   string  `json:"type,omitempty"`
	Rootfs *Rootfs `json:"rootfs,omitempty"`
}

// Rootfs names a task image and the versioned base it is layered onto.
type Rootfs struct {
	Image       string `json:"image,omitempty"`  // URI of the task image
	SHA256      string `json:"sha256,omitempty"` // hex digest of the image
	Base        string `json:"base,omitempty"`   // base rootfs name, e.g. "busybox"
	BaseVersion string `json:"baseVersion,omitempty"`
}

// errInvalid reports a bad app definition or request. Errors that concern one
// field are *fieldError values wrapping it.
var errInvalid = errors.New("invalid")

// errNotFound reports an unknown app.
var errNotFound = errors.New("not found")

// errExists reports an app that already exists.
var errExists = errors.New("already exists")

// fieldError names the app field (a JSON path such as "constraints[1]") and
// the value that made a definition invalid.
type fieldError struct {
	App   string // the app ID, when known
	Field string
	Value string // shortened to 64 bytes; may be empty
	Msg   string
}

func (e *fieldError) Error() string {
	var b strings.Builder
	if e.App != "" {
		fmt.Fprintf(&b, "app %q: ", e.App)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, "value %q: ", e.Value)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns errInvalid.
func (e *fieldError) Unwrap() error { return errInvalid }

func fieldErr(field, value, format string, args ...any) *fieldError {
	if len(value) > 64 {
		value = value[:64] + "…"
	}
	return &fieldError{Field: field, Value: value, Msg: fmt.Sprintf(format, args...)}
}

// DecodeApp reads one app definition strictly: unknown fields, trailing data,
// wrong types and invalid values are errors naming the field. Fields left out
// take Marathon's defaults, and the ID is made absolute ("web" → "/web").
func DecodeApp(r io.Reader) (App, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAppBytes+1))
	if err != nil {
		return App{}, fmt.Errorf("read app: %w", err)
	}
	if len(data) > maxAppBytes {
		return App{}, fmt.Errorf("%w: larger than %d bytes", errTooLarge, maxAppBytes)
	}
	return decodeApp(data, "")
}

// decodeApp is DecodeApp on bytes. A non-empty pathID is the ID from a
// request path: the body may leave its id out, and must match when not.
func decodeApp(data []byte, pathID string) (App, error) {
	a := App{ID: pathID,
		Cpus: defaultCpus, Mem: defaultMem, Instances: defaultInstances,
		BackoffSeconds: defaultBackoffSeconds, BackoffFactor: defaultBackoffFactor,
		MaxLaunchDelaySeconds: defaultMaxLaunchDelaySeconds,
	}
	data, err := screenMarathonFields(data)
	if err != nil {
		return App{}, err
	}
	if err := api.DecodeStrict(data, &a); err != nil {
		return App{}, appDecodeError(data, err)
	}
	if err := a.normalize(); err != nil {
		return App{}, err
	}
	if pathID != "" && a.ID != pathID {
		return App{}, fieldErr("id", a.ID, "does not match the app %q in the path", pathID)
	}
	return a, nil
}

// errTooLarge reports a definition over maxAppBytes. It wraps
// errInvalid.
var errTooLarge = fmt.Errorf("%w: too large", errInvalid)

// appDecodeError words api.DecodeStrict's error as this package's: a
// fieldError where a field or a constraint entry is at fault, all wrapping
// errInvalid.
func appDecodeError(data []byte, err error) error {
	var re *api.RequestError
	if !errors.As(err, &re) {
		return fmt.Errorf("%w: %w", errInvalid, err)
	}
	switch {
	case errors.Is(re.Err, offer.ErrInvalid):
		return constraintError(data, re.Err) // names the entry
	case re.Field != "":
		return fieldErr(re.Field, "", "%s", re.Reason)
	}
	return fmt.Errorf("%w: %s", errInvalid, re.Reason)
}

// constraintError names the constraint entry that offer refused: it
// decodes the constraints again one by one to find it.
func constraintError(data []byte, err error) error {
	var raw struct {
		ID          string            `json:"id"`
		Constraints []json.RawMessage `json:"constraints"`
	}
	field, value := "constraints", ""
	if json.Unmarshal(data, &raw) == nil {
		for i, c := range raw.Constraints {
			var parsed offer.Constraint
			if parsed.UnmarshalJSON(c) != nil {
				field, value = fmt.Sprintf("constraints[%d]", i), string(c)
				break
			}
		}
	}
	fe := fieldErr(field, value, "%v", err)
	fe.App = raw.ID
	return fe
}

var (
	// idSegment is Marathon's rule for one segment of an app ID.
	idSegment = regexp.MustCompile(`^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`)
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// nameText is a label key, rootfs base name or version: printable,
	// no spaces or slashes.
	nameText = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-]*$`)
)

// normalizeID makes an app ID absolute and checks it by Marathon's rules:
// path segments of lowercase letters, digits, hyphens and dots.
func normalizeID(id string) (string, error) {
	if id == "" {
		return "", fieldErr("id", "", "required")
	}
	if len(id) > 200 {
		return "", fieldErr("id", id, "longer than 200 bytes")
	}
	trimmed := strings.TrimSuffix(strings.TrimPrefix(id, "/"), "/")
	if trimmed == "" {
		return "", fieldErr("id", id, "empty path")
	}
	for seg := range strings.SplitSeq(trimmed, "/") {
		if !idSegment.MatchString(seg) {
			return "", fieldErr("id", id, "segment %q must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", seg)
		}
	}
	return "/" + trimmed, nil
}

// Normalize validates an app and puts it in canonical form: the ID absolute
// and uris moved into fetch. DecodeApp calls it; call it on an App built in
// Go. A zero field means zero (no cpus, no backoff), except BackoffFactor,
// which cannot be zero and becomes defaultBackoffFactor.
func (a *App) normalize() error {
	if a.BackoffFactor == 0 {
		a.BackoffFactor = defaultBackoffFactor
	}
	id, err := normalizeID(a.ID)
	if err != nil {
		return err
	}
	a.ID = id
	if err := a.validate(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			fe.App = a.ID
		}
		return err
	}
	if len(a.URIs) > 0 {
		for _, u := range a.URIs {
			a.Fetch = append(a.Fetch, Fetch{URI: u, Extract: isArchive(u)})
		}
		a.URIs = nil
	}
	a.normalizeLifecycle()
	return nil
}

func (a *App) validate() error {
	switch {
	case a.Cmd == "" && len(a.Args) == 0:
		return fieldErr("cmd", "", "one of cmd or args is required")
	case a.Cmd != "" && len(a.Args) > 0:
		return fieldErr("args", "", "give cmd or args, not both")
	case strings.ContainsRune(a.Cmd, 0):
		return fieldErr("cmd", a.Cmd, "contains a NUL byte")
	}
	for i, arg := range a.Args {
		if strings.ContainsRune(arg, 0) {
			return fieldErr(fmt.Sprintf("args[%d]", i), arg, "contains a NUL byte")
		}
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", a.Cpus}, {"mem", a.Mem}, {"disk", a.Disk}} {
		if _, ok := offer.FixedFromFloat(s.v); !ok {
			return fieldErr(s.name, fmt.Sprint(s.v), "must be a non-negative number")
		}
	}
	if a.Cpus == 0 && a.Mem == 0 {
		return fieldErr("cpus", "0", "an app needs some cpus or mem")
	}
	if a.Instances < 0 || a.Instances > maxInstances {
		return fieldErr("instances", fmt.Sprint(a.Instances), "must be between 0 and %d", maxInstances)
	}
	for i, c := range a.Constraints {
		if c.Op == 0 { // a null entry
			return fieldErr(fmt.Sprintf("constraints[%d]", i), "", "must be [field, OPERATOR, value?]")
		}
	}
	if len(a.URIs) > 0 && len(a.Fetch) > 0 {
		return fieldErr("uris", "", "give fetch or uris, not both")
	}
	for i, u := range a.URIs {
		if err := checkURI(u); err != nil {
			return fieldErr(fmt.Sprintf("uris[%d]", i), u, "%v", err)
		}
	}
	for i, f := range a.Fetch {
		if err := checkURI(f.URI); err != nil {
			return fieldErr(fmt.Sprintf("fetch[%d].uri", i), f.URI, "%v", err)
		}
		if f.DestPath != "" && !localPath(f.DestPath) {
			return fieldErr(fmt.Sprintf("fetch[%d].destPath", i), f.DestPath, "must be a relative path inside the sandbox")
		}
	}
	if strings.ContainsAny(a.User, "\x00\n") || len(a.User) > 64 {
		return fieldErr("user", a.User, "must be a user name or uid[:gid] of at most 64 bytes")
	}
	if len(a.Networks) > 1 {
		return fieldErr("networks", fmt.Sprint(len(a.Networks)), "at most one network")
	}
	for i, n := range a.Networks {
		if n.Mode != "host" && n.Mode != "none" {
			return fieldErr(fmt.Sprintf("networks[%d].mode", i), n.Mode, `must be "host" or "none" (container and bridge networks are not implemented)`)
		}
	}
	for _, k := range sortedKeys(a.Env) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fieldErr("env", k, "variable names must be non-empty without '=' or NUL")
		}
		if strings.ContainsRune(a.Env[k], 0) {
			return fieldErr("env."+k, a.Env[k], "contains a NUL byte")
		}
	}
	for _, k := range sortedKeys(a.Labels) {
		if !nameText.MatchString(k) {
			return fieldErr("labels", k, "label keys are letters, digits, '.', '_' and '-'")
		}
		if strings.ContainsRune(a.Labels[k], 0) {
			return fieldErr("labels."+k, a.Labels[k], "contains a NUL byte")
		}
	}
	if err := a.Container.validate(); err != nil {
		return err
	}
	p, err := api.ResolvePriority(a.Priority, a.Labels)
	if re := (*api.RequestError)(nil); errors.As(err, &re) {
		return fieldErr(re.Field, "", "%s", re.Reason)
	}
	a.Priority = p
	if err := a.validateLifecycle(); err != nil {
		return err
	}
	switch {
	case a.BackoffSeconds < 0 || math.IsNaN(a.BackoffSeconds) || a.BackoffSeconds > 86400:
		return fieldErr("backoffSeconds", fmt.Sprint(a.BackoffSeconds), "must be between 0 and 86400")
	case a.BackoffFactor < 1 || math.IsNaN(a.BackoffFactor) || a.BackoffFactor > 100:
		return fieldErr("backoffFactor", fmt.Sprint(a.BackoffFactor), "must be between 1 and 100")
	case a.MaxLaunchDelaySeconds < 0 || math.IsNaN(a.MaxLaunchDelaySeconds) || a.MaxLaunchDelaySeconds > 86400:
		return fieldErr("maxLaunchDelaySeconds", fmt.Sprint(a.MaxLaunchDelaySeconds), "must be between 0 and 86400")
	}
	return nil
}

func (c *Container) validate() error {
	if c == nil {
		return nil
	}
	if c.Type != "" && c.Type != "MESOS" {
		return fieldErr("container.type", c.Type, `only "MESOS" is supported`)
	}
	r := c.Rootfs
	if r == nil {
		return nil
	}
	if r.Image != "" {
		if err := checkURI(r.Image); err != nil {
			return fieldErr("container.rootfs.image", r.Image, "%v", err)
		}
	}
	if r.SHA256 != "" && !sha256Hex.MatchString(r.SHA256) {
		return fieldErr("container.rootfs.sha256", r.SHA256, "must be 64 lowercase hex digits")
	}
	if r.SHA256 != "" && r.Image == "" {
		return fieldErr("container.rootfs.sha256", r.SHA256, "given without an image")
	}
	if r.Base != "" && !nameText.MatchString(r.Base) {
		return fieldErr("container.rootfs.base", r.Base, "must be letters, digits, '.', '_' and '-'")
	}
	if r.BaseVersion != "" && !nameText.MatchString(r.BaseVersion) {
		return fieldErr("container.rootfs.baseVersion", r.BaseVersion, "must be letters, digits, '.', '_' and '-'")
	}
	if r.BaseVersion != "" && r.Base == "" {
		return fieldErr("container.rootfs.baseVersion", r.BaseVersion, "given without a base")
	}
	return nil
}

// checkURI accepts the schemes package rootfs fetches, and plain absolute
// paths.
func checkURI(s string) error {
	if s == "" {
		return errors.New("empty URI")
	}
	if strings.HasPrefix(s, "/") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URI")
	}
	switch u.Scheme {
	case "file", "http", "https", "s3":
		return nil
	}
	return fmt.Errorf("scheme %q not supported (want file, http, https or s3)", u.Scheme)
}

func localPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return false
		}
	}
	return true
}

func isArchive(uri string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst", ".zip"} {
		if strings.HasSuffix(uri, ext) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Resources returns what one instance of the app needs, in offer's terms.
func (a *App) resources() (offer.Resources, error) {
	var rs []offer.Resource
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", a.Cpus}, {"mem", a.Mem}, {"disk", a.Disk}} {
		f, ok := offer.FixedFromFloat(s.v)
		if !ok {
			return offer.Resources{}, fieldErr(s.name, fmt.Sprint(s.v), "must be a non-negative number")
		}
		if f > 0 {
			rs = append(rs, offer.Resource{Name: s.name, Type: offer.Scalar, Scalar: f})
		}
	}
	return offer.NewResources(rs...)
}
