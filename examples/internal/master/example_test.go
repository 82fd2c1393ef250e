package master_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/examples/internal/master"
)

// Run a master until ctx ends; start a second one with the same etcd and
// prefix on another address to have a follower that takes over.
func ExampleRun() {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:2379"}, DialTimeout: 5 * time.Second})
	if err != nil {
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = master.Run(ctx, master.Config{
		Etcd:   cli,
		Listen: "127.0.0.1:5050", // dashboard at http://127.0.0.1:5050/
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
}
