// Package offer is the scheduling core of Gleaner: resource vectors, Marathon
// placement constraints, matching tasks to offers, and weighted Dominant
// Resource Fairness allocation of offers to frameworks. It is pure and
// deterministic — no I/O, no goroutines, no clocks except an injectable one —
// so an in-house scheduler can import it alone.
//
// The shortest use, on the framework side:
//
//	res, _ := offer.ParseResources("cpus:4;mem:8192;ports:[31000-32000]")
//	rack, _ := offer.ParseConstraint("rack:GROUP_BY:3")
//	result := offer.Match(offers, []offer.Task{{ID: "t1", AppID: "web",
//		Resources: offer.MustParseResources("cpus:1;mem:1024"),
//		Constraints: []offer.Constraint{rack}}}, running)
//	// launch result.Launches, decline result.Leftover, and show
//	// result.Pending[i].String() ("cpus: 812, rack GROUP_BY: 37") to users.
//
// and on the master side:
//
//	alloc := offer.NewAllocator()
//	alloc.AddAgent(offer.Agent{ID: "a1", Total: res, Free: res})
//	alloc.AddFramework(offer.Framework{ID: "batch", Role: "batch", Weight: 2})
//	offers := alloc.Allocate() // then Accept, Decline, Recover, UpdateAgent
//
// # Resources
//
// Resources follow Mesos: scalars (cpus, mem, disk, gpus or any name),
// ranges (ports:[31000-32000]) and sets (disks:{a,b}), each optionally
// reserved for a role (cpus(batch):2), written in Mesos's text syntax or its
// JSON list form. Overlapping and adjacent ranges coalesce, as Mesos's do.
// Scalars are fixed point with three decimals, so repeated arithmetic never
// drifts. Bad input is a *SyntaxError naming the token and
// its byte offset, and wraps ErrInvalid.
//
// # Constraints
//
// Constraints follow Marathon: UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE,
// MAX_PER and IS over an agent attribute or "hostname", judged against the
// agents where the app's other tasks run.
//
// # Matching
//
// Match is a pipeline in the manner of Nomad's scheduler: feasibility checks
// that reject an offer with a reason, a score per Strategy (BinPack,
// FirstFit, Spread) and selection of the best of a limited number of
// feasible offers. Tasks that stay pending report how many offers each
// reason rejected, typed as in Nomad's AllocMetric: a RejectionKind
// (resource, role, constraint; filter from the Allocator), which resource or
// constraint, and a count, with a String for people.
//
// # Allocation
//
// Allocator offers each agent's available resources to the framework with
// the lowest weighted dominant share, honours decline filters (DefaultRefuse
// is 5 s), suppress and revive, and rescinds offers when an agent's
// resources shrink under them. It never offers the same resources twice.
//
// # Options
//
// Configuration follows one idiom: functional options typed per function,
// AllocatorOption for NewAllocator, MatchOption for Match and FilterOption
// for Accept and Decline. Values that describe what (a Task, a Framework)
// are structs.
package offer
