// Command rootfs packs, pushes, fetches, unpacks and runs task images with
// package rootfs, for operators.
//
//	rootfs pack -name web -version 1.2 -base busybox@1 -out ./out ./webapp
//	rootfs push -manifest ./out/web-1.2.manifest.json s3://images/tasks/
//	rootfs fetch -cache /var/cache/gleaner -sha256 HEX s3://images/tasks/web-1.2.tar.zst
//	rootfs unpack ./out/web-1.2.tar.zst ./web
//	rootfs run -bases /srv/bases -manifest ./out/web-1.2.manifest.json -- /app/run.sh
//	rootfs run -root ./rootdir -mode chroot -- /bin/sh -c 'echo hi'
//
// S3 endpoint, region and credentials come from AWS_ENDPOINT_URL_S3 (or
// AWS_ENDPOINT_URL), AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gleaner/gleaner/rootfs"
)

func main() {
	// Must come first: rootfs.Start re-executes this program as its helper.
	rootfs.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: rootfs <command> [flags] [args]

commands:
  pack     build a reproducible task bundle and its manifest from a directory
  push     upload a file, or a bundle with its manifest, to file:// or s3://
  fetch    download an object into the cache, with a progress bar
  unpack   unpack a .tar, .tar.gz or .tar.zst safely into a new directory
  run      run a command inside a root (a directory, or a base + bundle)

Run "rootfs <command> -h" for the flags of a command.
`

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"pack": cmdPack, "push": cmdPush, "fetch": cmdFetch, "unpack": cmdUnpack, "run": cmdRun,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rootfs: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, args[1:], stdout, stderr); err != nil {
		if ee, ok := err.(exitError); ok {
			return int(ee)
		}
		if err != errUsage {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	return 0
}

// exitError carries the exit code of a command run by "rootfs run".
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit code %d", int(e)) }
