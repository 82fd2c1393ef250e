package patchelf

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// bundleConfig is what Bundle's options collected.
type bundleConfig struct {
	search searchConfig
	logger *slog.Logger
}

// loggerOption is a BundleOption that sets the logger.
type loggerOption struct{ l *slog.Logger }

func (o loggerOption) applyBundle(c *bundleConfig) { c.logger = o.l }

// WithLogger makes Bundle log one line per file it copies. For Bundle.
func WithLogger(l *slog.Logger) BundleOption { return loggerOption{l} }

// BundleReport says what Bundle did.
type BundleReport struct {
	Programs  []string  // the programs' paths inside the bundle
	Libraries []Library // every resolved library, bundled or skipped
}

// Bundle copies programs to dest/bin and the shared libraries they load
// (resolved as ld.so would, see Resolve) to dest/lib, and sets the
// runpath of the copies to $ORIGIN/../lib (programs) and $ORIGIN
// (libraries), so the bundle runs from any directory on a machine where
// the libraries are not installed. A DT_NEEDED that names a path is
// rewritten to the bundled file's name. The C library and the loader stay
// on the host unless WithLibc is given; the loader is then copied as it
// is (glibc's ld.so refuses to start with a run path). A static program
// (no loader, nothing needed) is copied as it is too. Programs keep their
// PT_INTERP: a bundle that carries its loader is run through it, or from
// a root where the loader sits at that path.
func Bundle(ctx context.Context, dest string, programs []string, opts ...BundleOption) (*BundleReport, error) {
	cfg := bundleConfig{search: newSearchConfig(), logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o.applyBundle(&cfg)
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := newResolver(cfg.search)
	progs, err := r.closure(ctx, programs)
	if err != nil {
		return nil, err
	}
	bin, lib := filepath.Join(dest, "bin"), filepath.Join(dest, "lib")
	for _, d := range []string{bin, lib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	rep := &BundleReport{Libraries: r.libs}
	// A DT_NEEDED written as a path (a library linked by path and without
	// a SONAME) would still load from that path: the copies name the
	// bundled file instead.
	rename := map[string]string{}
	for _, l := range r.libs {
		if l.From == FromPath && !l.Skipped {
			rename[l.Name] = filepath.Base(l.Name)
		}
	}
	names := map[string]string{}
	for _, p := range progs {
		out := filepath.Join(bin, filepath.Base(p.path))
		if prev, ok := names[out]; ok {
			return nil, fmt.Errorf("%w: programs %s and %s both bundle to %s", ErrInvalid, prev, p.path, out)
		}
		names[out] = p.path
		runpath := "$ORIGIN/../lib"
		if p.static {
			runpath = ""
		}
		if err := copyWithRunPath(ctx, p.path, out, runpath, rename); err != nil {
			return nil, err
		}
		log.Info("bundled program", "src", p.path, "dst", out, "static", p.static)
		rep.Programs = append(rep.Programs, out)
	}
	for _, l := range r.libs {
		if l.Skipped {
			log.Info("left to the host", "lib", l.Name, "path", l.Path)
			continue
		}
		out := filepath.Join(lib, filepath.Base(l.Name))
		runpath := "$ORIGIN"
		if l.Loader {
			runpath = ""
		}
		if err := copyWithRunPath(ctx, l.Path, out, runpath, rename); err != nil {
			return nil, err
		}
		log.Info("bundled library", "lib", l.Name, "src", l.Path, "from", string(l.From), "dst", out, "loader", l.Loader)
	}
	return rep, nil
}

// copyWithRunPath writes src to dst with the run path set and the DT_NEEDED
// paths renamed; with runpath "" it writes src as it is (the loader, a
// static program).
func copyWithRunPath(ctx context.Context, src, dst, runpath string, rename map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if runpath != "" {
		if err := f.SetRPath(runpath); err != nil {
			return err
		}
		if err := f.ReplaceNeeded(rename); err != nil {
			return pkgerr.Wrap("patchelf", err, "bundling %s", src)
		}
	}
	if err := f.SaveAs(dst); err != nil {
		return pkgerr.Wrap("patchelf", err, "bundling %s", src)
	}
	return nil
}
