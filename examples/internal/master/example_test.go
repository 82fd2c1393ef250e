package master_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/master"
	"github.com/gleaner/gleaner/internal/pki"
)

// Run a master until ctx ends; start a second one with the same etcd and
// prefix on another address to have a follower that takes over. Its
// certificate (examples/certs issue -principal master/m1) serves TLS and
// authenticates it to etcd; the policy says what frameworks and operators
// may do.
func ExampleRun() {
	id, err := auth.LoadTLS(pki.Files{CA: "pki/ca.pem", Cert: "pki/master-m1.pem", Key: "pki/master-m1-key.pem"})
	if err != nil {
		return
	}
	policy, err := auth.LoadPolicy("acls.json")
	if err != nil {
		return
	}
	cli, err := auth.NewEtcdClient([]string{"https://127.0.0.1:2379"}, id)
	if err != nil {
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = master.Run(ctx, master.Config{
		Etcd:   cli,
		ID:     "m1",
		TLS:    id,
		ACL:    policy,
		Listen: "127.0.0.1:5050", // dashboard at https://127.0.0.1:5050/
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
}
