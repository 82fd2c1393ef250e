package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

const policyJSON = `{
  "register_frameworks": [{"principals": ["framework/marathon"], "roles": ["*", "batch"], "max_weight": 2},
                          {"principals": "ANY", "roles": ["sandbox"]}],
  "run_tasks":           [{"principals": ["framework/marathon"], "users": ["nobody", "batch"]}],
  "kill_tasks":          [{"principals": ["operator/admin"], "framework_principals": "ANY"}],
  "teardown_frameworks": [{"principals": ["operator/admin"], "framework_principals": ["framework/marathon"]}],
  "get_state":           [{"principals": ["operator/admin", "operator/dashboard"]}],
  "update_maintenance":  [{"principals": ["operator/admin"]}]
}`

func TestPolicyGrantsWhatItSaysAndDeniesTheRest(t *testing.T) {
	p, err := auth.ParsePolicy([]byte(policyJSON))
	if err != nil {
		t.Fatal(err)
	}
	marathon := authtest.Principal(t, "framework/marathon")
	other := authtest.Principal(t, "framework/other")
	admin := authtest.Principal(t, "operator/admin")
	dashboard := authtest.Principal(t, "operator/dashboard")
	tests := []struct {
		name string
		who  auth.Principal
		req  auth.Request
		ok   bool
	}{
		{"register under a granted role", marathon, auth.Request{Action: auth.RegisterFrameworks, Role: "batch", Weight: 2}, true},
		{"register above the max weight", marathon, auth.Request{Action: auth.RegisterFrameworks, Role: "batch", Weight: 3}, false},
		{"register under another role", marathon, auth.Request{Action: auth.RegisterFrameworks, Role: "prod", Weight: 1}, false},
		{"ANY principal, default max weight 1", other, auth.Request{Action: auth.RegisterFrameworks, Role: "sandbox", Weight: 1}, true},
		{"ANY principal above weight 1", other, auth.Request{Action: auth.RegisterFrameworks, Role: "sandbox", Weight: 1.5}, false},
		{"run as a granted user", marathon, auth.Request{Action: auth.RunTasks, User: "batch"}, true},
		{"run as root", marathon, auth.Request{Action: auth.RunTasks, User: "root"}, false},
		{"run as the default user with a grant", marathon, auth.Request{Action: auth.RunTasks}, true},
		{"run without any run_tasks grant", other, auth.Request{Action: auth.RunTasks}, false},
		{"kill anyone's tasks with ANY", admin, auth.Request{Action: auth.KillTasks, Owner: other}, true},
		{"kill without a grant", marathon, auth.Request{Action: auth.KillTasks, Owner: other}, false},
		{"teardown a listed owner", admin, auth.Request{Action: auth.TeardownFrameworks, Owner: marathon}, true},
		{"teardown an unlisted owner", admin, auth.Request{Action: auth.TeardownFrameworks, Owner: other}, false},
		{"read state", dashboard, auth.Request{Action: auth.GetState}, true},
		{"read state without a grant", marathon, auth.Request{Action: auth.GetState}, false},
		{"drain", admin, auth.Request{Action: auth.UpdateMaintenance}, true},
		{"drain without a grant", dashboard, auth.Request{Action: auth.UpdateMaintenance}, false},
		{"anonymous gets nothing", auth.Anonymous, auth.Request{Action: auth.GetState}, false},
		{"an unknown action is denied", admin, auth.Request{Action: "format_disks"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Allow(tt.who, tt.req)
			if (err == nil) != tt.ok {
				t.Fatalf("Allow: %v, want allowed %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrDenied) {
				t.Fatalf("refusal %v does not match ErrDenied", err)
			}
		})
	}
}

func TestRefusalNamesThePrincipalAndTheMissingGrant(t *testing.T) {
	var nobody *auth.Policy // a nil policy denies everything
	err := nobody.Allow(authtest.Principal(t, "framework/x"), auth.Request{Action: auth.RunTasks, User: "root"})
	want := `principal framework/x has no grant run_tasks as user "root"`
	if err == nil || err.Error() != want {
		t.Fatalf("refusal %q, want %q", err, want)
	}
	var de *auth.DeniedError
	if !errors.As(err, &de) || de.Request.User != "root" {
		t.Fatalf("refusal %#v is not a DeniedError", err)
	}
}

func TestMalformedPoliciesAreRefused(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown action":        `{"format_disks": []}`,
		"principals missing":    `{"get_state": [{}]}`,
		"roles missing":         `{"register_frameworks": [{"principals": "ANY"}]}`,
		"not a principal":       `{"get_state": [{"principals": ["admin"]}]}`,
		"entity neither":        `{"get_state": [{"principals": "SOME"}]}`,
		"negative weight":       `{"register_frameworks": [{"principals": "ANY", "roles": "ANY", "max_weight": -1}]}`,
		"owner not a principal": `{"kill_tasks": [{"principals": "ANY", "framework_principals": ["x"]}]}`,
		"two objects":           `{} {}`,
	} {
		if _, err := auth.ParsePolicy([]byte(doc)); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestProvisionedEtcdUsersKeepToTheirPrefixes(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const prefix = "/cluster"
	a1, m1, ops, fw := authtest.Principal(t, "agent/a1"), authtest.Principal(t, "master/m1"),
		authtest.Principal(t, "operator/ops"), authtest.Principal(t, "framework/f")
	authtest.Etcd(t, srv, prefix, a1, m1, ops, fw)
	can := func(p auth.Principal, key string) error {
		_, err := srv.ClientAs(t, auth.EtcdUser(p)).Put(ctx, key, "x")
		return err
	}
	allowed := []struct {
		p   auth.Principal
		key string
	}{
		{a1, "/cluster/agents/a1/alive"}, {a1, "/cluster/agents/a1/attributes/rack"},
		{m1, "/cluster/master/election/1"}, {m1, "/cluster/master/tasks/t1"},
		{ops, "/cluster/agents/a2/attributes/rack"},
	}
	for _, a := range allowed {
		if err := can(a.p, a.key); err != nil {
			t.Errorf("%s put %s: %v", a.p, a.key, err)
		}
	}
	denied := []struct {
		p   auth.Principal
		key string
	}{
		{a1, "/cluster/agents/a2/alive"}, {a1, "/cluster/agents/a10/alive"}, {a1, "/cluster/master/election/evil"},
		{m1, "/cluster/agents/a1/attributes/rack"}, {ops, "/other/x"}, {fw, "/cluster/master/frameworks/x"},
	}
	for _, d := range denied {
		if err := can(d.p, d.key); !errors.Is(err, rpctypes.ErrPermissionDenied) && !errors.Is(err, rpctypes.ErrUserNotFound) {
			t.Errorf("%s put %s: %v, want permission denied", d.p, d.key, err)
		}
	}
	// The master reads every agent's keys, for its cluster view.
	if _, err := srv.ClientAs(t, auth.EtcdUser(m1)).Get(ctx, "/cluster/agents/a1/alive"); err != nil {
		t.Errorf("master reading an agent's key: %v", err)
	}
}
