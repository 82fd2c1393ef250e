// Package auth is who may do what in the example cluster: mutual TLS on
// every channel, the principal a certificate or a bearer token names, and
// the master's ACL policy.
//
// # Identity
//
// Every party holds a certificate of the cluster's CA whose URI subject
// alternative name is its principal, spiffe://gleaner/<kind>/<name>, and
// whose common name is the same principal written kind/name (etcd takes
// the common name as the user):
//
//	master/m1          a master (clients check they talk to a master)
//	agent/<agent-id>   an agent; it may register, report and poll only as that ID
//	framework/<name>   a framework principal; the frameworks it subscribes are bound to it
//	operator/<name>    a person or tool; client-only certificate
//
// Frameworks and operators may authenticate with a bearer token instead
// (Tokens; the server keeps only their SHA-256). Certificates are made
// with examples/certs, or, in the demo, minted at start.
//
// # One TLS type
//
// TLS reads a party's CA, certificate and key from files and reads them
// again when they change, so certificates rotate without restarts. It
// makes server configurations (TLS 1.3, client certificates verified) and
// clients (HTTP transports, etcd's tls.Config); Flags gives programs their
// -ca, -cert, -key and -insecure flags. Plaintext needs -insecure, and the
// master's dashboard then says so in red.
//
//	t, err := auth.LoadTLS(pki.Files{CA: "ca.pem", Cert: "agent-1.pem", Key: "agent-1-key.pem"})
//	client := api.NewAgentClient(masters, api.WithHTTPClient(t.HTTPClient(auth.KindMaster)))
//
// # Requests
//
// Guard is the middleware of every server: Host check against DNS
// rebinding, the principal from the certificate or token into the request's
// context, 401 without a credential. Handlers then ask the Policy.
//
// # Authorization
//
// Policy is the master's ACL file in Mesos's shape: grants of
// register_frameworks (roles, weights), run_tasks (users), kill_tasks and
// teardown_frameworks (of whose frameworks), get_state and
// update_maintenance to principals. Anything not granted is denied, with a
// 403 naming the principal and the missing grant.
//
// # etcd
//
// ProvisionEtcd gives each principal an etcd user and a role limited to its
// key prefixes (EtcdPrefixes): an agent its own attributes and liveness, a
// master its state and election, an operator everything, a framework
// nothing.
package auth
