// Package attrs keeps agents' attributes in etcd: typed values in Mesos's
// text syntax, a store with one key per attribute, a syncer that keeps an
// agent's attributes current on the agent, a cluster-wide view for the
// master, and agent liveness by lease.
//
// Attributes are text, scalars or ranges, written as Mesos writes them:
//
//	as, err := attrs.Parse("rack:r1;zone:east;cores:16;ports:[31000-32000]")
//	constraints := as.Map() // map[string]string, as placement constraints use
//
// Each attribute is one etcd key, so one attribute is set or deleted with
// one operation, here or with etcdctl:
//
//	<prefix>/agents/<agent-id>/attributes/<name>   value in the syntax above
//	<prefix>/agents/<agent-id>/alive               under the agent's lease
//
// The prefix is "/gleaner" unless WithPrefix says otherwise.
//
// On an agent, a Syncer follows that agent's keys and a Registrar keeps it
// registered; on the master, a ClusterView follows every agent:
//
//	s, _ := attrs.NewSyncer(cli, "agent-1", attrs.WithLocal(fromConfig))
//	sub := s.Subscribe()
//	go s.Run(ctx) // until ctx ends or s.Close()
//	for c := range sub.C() { ... c.Kind, c.Name, c.Old, c.New ... }
//
// A Syncer or ClusterView reads everything, then watches from the next
// revision; it reads everything again every resync period (30 s) and
// whenever its watch revision was compacted. While etcd does not answer it
// keeps the last known values, Status reports them stale with their age,
// and it recovers by itself when etcd is back. Local attributes from the
// agent's configuration yield to etcd's (see WithLocal).
//
// # Options
//
// Each constructor takes its own option type; an option that several take
// satisfies each of their types, and its doc comment names them:
//
//	NewEtcdStore, NewMemStore  StoreOption
//	NewSyncer                  SyncerOption
//	NewClusterView             ClusterViewOption
//	NewRegistrar               RegistrarOption
//
// WatchOption (NewSyncer and NewClusterView), RunOption (those and
// NewRegistrar) and Option (every constructor) are the shared ones. A bad
// value is refused by the constructor with an error wrapping ErrInvalid
// that names the option: "WithResyncPeriod(-1s): must be positive".
//
// # Subscriptions
//
// Syncer.Subscribe and ClusterView.Subscribe return a *Subscription that
// gets every change, in etcd's order, never dropping one: an attribute a
// task depends on going away must not be missed. Changes queue without
// bound until read, so a subscriber must drain C or Close.
package attrs
