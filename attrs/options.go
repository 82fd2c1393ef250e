package attrs

import (
	"log/slog"
	"strings"
	"time"
)

// DefaultPrefix is the key prefix used unless WithPrefix says otherwise.
const DefaultPrefix = "/gleaner"

// Defaults for the options below.
const (
	DefaultResyncPeriod  = 30 * time.Second
	DefaultProbeInterval = 5 * time.Second
	DefaultLeaseTTL      = 10 * time.Second
	// DefaultMaxRequestBytes is etcd's default --max-request-bytes (1.5 MiB).
	DefaultMaxRequestBytes = 3 << 19
)

// Option configures a store, Syncer, ClusterView or Registrar, in the style
// of etcd's clientv3.OpOption. Each type documents the options it reads and
// ignores the rest.
type Option func(*options)

type options struct {
	prefix          string
	logger          *slog.Logger
	resync          time.Duration
	probe           time.Duration
	ttl             time.Duration
	maxRequestBytes int
	local           Attributes
}

func newOptions(opts []Option) options {
	o := options{
		prefix:          DefaultPrefix,
		logger:          slog.New(slog.DiscardHandler),
		resync:          DefaultResyncPeriod,
		probe:           DefaultProbeInterval,
		ttl:             DefaultLeaseTTL,
		maxRequestBytes: DefaultMaxRequestBytes,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithPrefix sets the key prefix; keys are
// <prefix>/agents/<agent-id>/attributes/<name>. A trailing '/' is dropped.
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = strings.TrimRight(prefix, "/") }
}

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithResyncPeriod sets how often a Syncer or ClusterView reads everything
// again in full, to repair anything a watch might have missed
// (default 30 s).
func WithResyncPeriod(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.resync = d
		}
	}
}

// WithProbeInterval sets how often a Syncer or ClusterView checks that etcd
// answers, and the timeout of each request it makes (default 5 s). A failed
// probe marks the values stale; the first successful one after that
// triggers a full resync.
func WithProbeInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.probe = d
		}
	}
}

// WithLeaseTTL sets the TTL of a Registrar's lease (default 10 s). etcd
// rounds TTLs below its minimum (1.5 s with default timing) up.
func WithLeaseTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.ttl = d
		}
	}
}

// WithMaxRequestBytes tells the etcd store the server's --max-request-bytes
// so that oversized values are refused before they are sent, with an error
// naming the attribute (default 1.5 MiB, etcd's default).
func WithMaxRequestBytes(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxRequestBytes = n
		}
	}
}

// WithLocal gives a Syncer the agent's own attributes, from its
// configuration. Precedence: a value in etcd overrides the local value of
// the same name; a local attribute stays visible while etcd has no key for
// its name, and comes back if that key is deleted. Operators therefore
// change an agent at runtime through etcd, and the configuration provides
// defaults.
func WithLocal(a Attributes) Option {
	return func(o *options) { o.local = a }
}
