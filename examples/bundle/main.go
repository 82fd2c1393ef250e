// Command bundle copies programs and the shared libraries they load into
// one directory that runs from anywhere:
//
//	bundle -o /opt/agent bin/agent bin/helper
//
// gives /opt/agent/bin/{agent,helper} with runpath $ORIGIN/../lib and
// /opt/agent/lib/* with runpath $ORIGIN, and prints where each library was
// found (DT_RUNPATH, ld.so.cache, default path, ...).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/gleaner/gleaner/patchelf"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bundle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "destination directory (required)")
	libc := fs.Bool("libc", false, "also bundle the C library and the loader")
	libPath := fs.String("library-path", "", "colon-separated directories searched like LD_LIBRARY_PATH")
	cache := fs.String("cache", "", `ld.so cache to read ("-" for none; default /etc/ld.so.cache)`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bundle -o DIR [-libc] [-library-path DIRS] [-cache FILE] PROGRAM...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var opts []patchelf.BundleOption
	if *libc {
		opts = append(opts, patchelf.WithLibc())
	}
	switch *cache {
	case "":
	case "-":
		opts = append(opts, patchelf.WithCache(""))
	default:
		opts = append(opts, patchelf.WithCache(*cache))
	}
	if *libPath != "" {
		opts = append(opts, patchelf.WithLibraryPath(filepath.SplitList(*libPath)...))
	}
	rep, err := patchelf.Bundle(ctx, *out, fs.Args(), opts...)
	if err != nil {
		fmt.Fprintf(stderr, "bundle: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIBRARY\tFOUND IN\tVIA\tNEEDED BY\tBUNDLED")
	for _, l := range rep.Libraries {
		bundled := "lib/" + filepath.Base(l.Name)
		if l.Skipped {
			bundled = "no (C library, left to the host)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Name, l.Path, l.From, l.By, bundled)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "programs: %s\n", strings.Join(rep.Programs, " "))
	return 0
}
