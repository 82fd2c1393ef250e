package attrs

import (
	"fmt"
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

// A StoreOption configures NewEtcdStore and NewMemStore.
type StoreOption interface{ applyStore(*options) }

// A SyncerOption configures NewSyncer.
type SyncerOption interface{ applySyncer(*options) }

// A ClusterViewOption configures NewClusterView.
type ClusterViewOption interface{ applyClusterView(*options) }

// A RegistrarOption configures NewRegistrar.
type RegistrarOption interface{ applyRegistrar(*options) }

// A WatchOption configures how a Syncer or a ClusterView follows etcd:
// NewSyncer and NewClusterView take it.
type WatchOption interface {
	SyncerOption
	ClusterViewOption
}

// A RunOption configures the types that run: NewSyncer, NewClusterView and
// NewRegistrar take it.
type RunOption interface {
	WatchOption
	RegistrarOption
}

// An Option configures every constructor of the package.
type Option interface {
	RunOption
	StoreOption
}

// option is every option's implementation; the type a With function
// returns decides which constructors accept it.
type option func(*options)

func (o option) applyStore(c *options)       { o(c) }
func (o option) applySyncer(c *options)      { o(c) }
func (o option) applyClusterView(c *options) { o(c) }
func (o option) applyRegistrar(c *options)   { o(c) }

type options struct {
	prefix          string
	logger          *slog.Logger
	resync          time.Duration
	probe           time.Duration
	ttl             time.Duration
	maxRequestBytes int
	local           Attributes
}

func defaultOptions() options {
	return options{
		prefix:          DefaultPrefix,
		logger:          slog.New(slog.DiscardHandler),
		resync:          DefaultResyncPeriod,
		probe:           DefaultProbeInterval,
		ttl:             DefaultLeaseTTL,
		maxRequestBytes: DefaultMaxRequestBytes,
	}
}

// validate refuses the values no constructor can use.
func (o options) validate() error {
	for _, d := range []struct {
		option string
		v      time.Duration
	}{{"WithResyncPeriod", o.resync}, {"WithProbeInterval", o.probe}, {"WithLeaseTTL", o.ttl}} {
		if d.v <= 0 {
			return badOption(d.option, d.v, "must be positive")
		}
	}
	if o.maxRequestBytes <= requestOverhead {
		return badOption("WithMaxRequestBytes", o.maxRequestBytes, fmt.Sprintf("must leave room for the %d bytes of a request's framing", requestOverhead))
	}
	return nil
}

func badOption(option string, value any, reason string) error {
	return fmt.Errorf("%w: %s(%v): %s", ErrInvalid, option, value, reason)
}

// collect applies opts, one constructor's options, over the defaults and
// validates the result; apply is that constructor's option method.
func collect[O any](opts []O, apply func(O, *options)) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		apply(opt, &o)
	}
	return o, o.validate()
}

// WithPrefix sets the key prefix; keys are
// <prefix>/agents/<agent-id>/attributes/<name>. A trailing '/' is dropped.
// Every constructor takes it.
func WithPrefix(prefix string) Option {
	return option(func(o *options) { o.prefix = strings.TrimRight(prefix, "/") })
}

// WithLogger sets the logger; by default nothing is logged. NewSyncer,
// NewClusterView and NewRegistrar take it.
func WithLogger(l *slog.Logger) RunOption {
	return option(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithResyncPeriod sets how often a Syncer or ClusterView reads everything
// again in full, to repair anything a watch might have missed
// (default 30 s). NewSyncer and NewClusterView take it.
func WithResyncPeriod(d time.Duration) WatchOption {
	return option(func(o *options) { o.resync = d })
}

// WithProbeInterval sets how often a Syncer or ClusterView checks that etcd
// answers, and the timeout of each request it makes (default 5 s). A failed
// probe marks the values stale; the first successful one after that
// triggers a full resync. NewSyncer and NewClusterView take it.
func WithProbeInterval(d time.Duration) WatchOption {
	return option(func(o *options) { o.probe = d })
}

// WithLeaseTTL sets the TTL of a Registrar's lease (default 10 s). etcd
// rounds TTLs below its minimum (1.5 s with default timing) up.
// NewRegistrar takes it.
func WithLeaseTTL(d time.Duration) RegistrarOption {
	return option(func(o *options) { o.ttl = d })
}

// WithMaxRequestBytes tells a store the etcd server's --max-request-bytes
// so that oversized values are refused before they are sent, with an error
// naming the attribute (default 1.5 MiB, etcd's default). NewEtcdStore and
// NewMemStore take it (MemStore refuses what etcd would).
func WithMaxRequestBytes(n int) StoreOption {
	return option(func(o *options) { o.maxRequestBytes = n })
}

// WithLocal gives a Syncer the agent's own attributes, from its
// configuration. Precedence: a value in etcd overrides the local value of
// the same name; a local attribute stays visible while etcd has no key for
// its name, and comes back if that key is deleted. Operators therefore
// change an agent at runtime through etcd, and the configuration provides
// defaults. NewSyncer takes it.
func WithLocal(a Attributes) SyncerOption {
	return option(func(o *options) { o.local = a })
}
