package patchelf

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// Source says where the loader would find a library.
type Source string

// The places ld.so searches, in its order.
const (
	FromPath        Source = "path"            // DT_NEEDED holds a path
	FromRPath       Source = "DT_RPATH"        // an rpath of the needing object or its loaders
	FromLibraryPath Source = "LD_LIBRARY_PATH" // WithLibraryPath
	FromRunPath     Source = "DT_RUNPATH"      // the needing object's runpath
	FromCache       Source = "ld.so.cache"     // /etc/ld.so.cache
	FromDefault     Source = "default path"    // the loader's built-in directories
)

// Library is one resolved dependency.
type Library struct {
	Name    string // as written in DT_NEEDED
	Path    string // where it was found
	From    Source
	By      string // the object that needs it (first one, in load order)
	Skipped bool   // part of the C library or the loader, left out
	// Loader: this is the dynamic loader a program names in PT_INTERP
	// (ld-linux-x86-64.so.2), which glibc's C library also lists as
	// needed. Bundle copies it as it is: it must not get a run path.
	Loader bool
}

// ResolveOption configures Resolve. The search options (WithLibraryPath,
// WithCache, WithDefaultDirs, WithLibc) configure Bundle too.
type ResolveOption interface{ applyResolve(*searchConfig) }

// BundleOption configures Bundle: the search options, and WithLogger.
type BundleOption interface{ applyBundle(*bundleConfig) }

// searchConfig is how libraries are searched for.
type searchConfig struct {
	libraryPath []string
	cache       string // "" for none
	defaultDirs []string
	includeLibc bool
}

func newSearchConfig() searchConfig { return searchConfig{cache: "/etc/ld.so.cache"} }

// A SearchOption says how Resolve and Bundle search for libraries; both
// take it.
type SearchOption interface {
	ResolveOption
	BundleOption
}

type searchOption func(*searchConfig)

func (o searchOption) applyResolve(c *searchConfig) { o(c) }
func (o searchOption) applyBundle(c *bundleConfig)  { o(&c.search) }

// WithLibraryPath searches dirs where the loader searches
// LD_LIBRARY_PATH. For Resolve and Bundle.
func WithLibraryPath(dirs ...string) SearchOption {
	return searchOption(func(c *searchConfig) { c.libraryPath = dirs })
}

// WithCache reads the ld.so cache from path instead of /etc/ld.so.cache;
// "" reads none. For Resolve and Bundle.
func WithCache(path string) SearchOption {
	return searchOption(func(c *searchConfig) { c.cache = path })
}

// WithDefaultDirs replaces the loader's built-in directories (Debian's:
// /lib/<triplet>, /usr/lib/<triplet>, /lib64 or /lib32, /lib, /usr/lib).
// With no directories, none is searched. For Resolve and Bundle.
func WithDefaultDirs(dirs ...string) SearchOption {
	return searchOption(func(c *searchConfig) { c.defaultDirs = append([]string{}, dirs...) })
}

// WithLibc also resolves (and bundles) the C library and the loader, which
// are otherwise left to the host. For Resolve and Bundle.
func WithLibc() SearchOption {
	return searchOption(func(c *searchConfig) { c.includeLibc = true })
}

// libcPattern matches the libraries glibc ships together with its loader:
// they must come from the same build as the loader that runs the program,
// so a bundle leaves them to the host.
var libcPattern = regexp.MustCompile(`^(ld-linux.*|ld64|ld|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libnsl|libBrokenLocale|libthread_db|libnss_[a-z]+)\.so(\.[0-9.]+)?$`)

// object is an ELF file in the closure.
type object struct {
	path     string
	origin   string
	parent   *object
	class    elf.Class
	machine  elf.Machine
	needed   []string
	rpath    []string
	runpath  []string
	nodeflib bool
	soname   string
	interp   string // PT_INTERP, "" for none
	// static: a program that no loader starts and that needs nothing
	// (no dynamic section, or a static PIE's without DT_NEEDED).
	static bool
}

func loadObject(path string, parent *object) (*object, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	interp, err := f.Interpreter()
	if err != nil && !errors.Is(err, ErrNoInterpreter) {
		return nil, err
	}
	needed, err := f.Needed()
	if errors.Is(err, ErrStatic) && parent == nil && interp == "" {
		return &object{path: path, class: f.class, machine: f.machine, static: true}, nil
	}
	if err != nil {
		return nil, err
	}
	o := &object{path: path, parent: parent, class: f.class, machine: f.machine, needed: needed, interp: interp,
		static: parent == nil && interp == "" && len(needed) == 0}
	origin := path
	if parent == nil { // the program: the kernel resolves symlinks
		if r, err := filepath.EvalSymlinks(path); err == nil {
			origin = r
		}
	}
	if abs, err := filepath.Abs(origin); err == nil {
		origin = abs
	}
	o.origin = filepath.Dir(origin)
	rpath, err := f.DynStrings(elf.DT_RPATH)
	if err != nil {
		return nil, err
	}
	runpath, err := f.DynStrings(elf.DT_RUNPATH)
	if err != nil {
		return nil, err
	}
	for _, s := range rpath {
		o.rpath = append(o.rpath, o.expand(s)...)
	}
	for _, s := range runpath {
		o.runpath = append(o.runpath, o.expand(s)...)
	}
	if v, ok := f.dynVal(elf.DT_FLAGS_1); ok && v&uint64(elf.DF_1_NODEFLIB) != 0 {
		o.nodeflib = true
	}
	o.soname, _, _ = f.Soname()
	return o, nil
}

// expand splits a search path and substitutes $ORIGIN, $LIB, $PLATFORM.
func (o *object) expand(path string) []string {
	var out []string
	for _, d := range strings.Split(path, ":") {
		if d == "" {
			d = "."
		}
		r := strings.NewReplacer("${ORIGIN}", o.origin, "$ORIGIN", o.origin,
			"${LIB}", libDir(o.class, o.machine), "$LIB", libDir(o.class, o.machine),
			"${PLATFORM}", platform(o.machine), "$PLATFORM", platform(o.machine))
		out = append(out, r.Replace(d))
	}
	return out
}

// triplet is the Debian multiarch directory name of a machine.
func triplet(c elf.Class, m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		if c == elf.ELFCLASS32 {
			return "x86_64-linux-gnux32"
		}
		return "x86_64-linux-gnu"
	case elf.EM_386:
		return "i386-linux-gnu"
	case elf.EM_AARCH64:
		return "aarch64-linux-gnu"
	case elf.EM_ARM:
		return "arm-linux-gnueabihf"
	case elf.EM_PPC64:
		return "powerpc64le-linux-gnu"
	case elf.EM_S390:
		return "s390x-linux-gnu"
	case elf.EM_RISCV:
		return "riscv64-linux-gnu"
	}
	return ""
}

func libDir(c elf.Class, m elf.Machine) string {
	if t := triplet(c, m); t != "" {
		return "lib/" + t
	}
	return "lib"
}

func platform(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86_64"
	case elf.EM_386:
		return "i686"
	case elf.EM_AARCH64:
		return "aarch64"
	}
	return strings.ToLower(strings.TrimPrefix(m.String(), "EM_"))
}

// defaultDirs are the loader's built-in directories on Debian.
func defaultDirs(c elf.Class, m elf.Machine) []string {
	var dirs []string
	if t := triplet(c, m); t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if c == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	} else {
		dirs = append(dirs, "/lib32", "/usr/lib32")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// resolver finds the DT_NEEDED closure of programs the way ld.so does.
type resolver struct {
	opts    searchConfig
	cache   []CacheEntry
	cached  bool
	seen    map[string]bool // needed names and sonames already resolved
	libs    []Library
	loaders map[string]bool // file names of the PT_INTERPs seen
}

// Resolve returns the shared libraries the programs load, in the loader's
// breadth-first order, with where each was found.
func Resolve(ctx context.Context, programs []string, opts ...ResolveOption) ([]Library, error) {
	cfg := newSearchConfig()
	for _, o := range opts {
		o.applyResolve(&cfg)
	}
	r := newResolver(cfg)
	_, err := r.closure(ctx, programs)
	return r.libs, err
}

func newResolver(cfg searchConfig) *resolver {
	return &resolver{opts: cfg, seen: map[string]bool{}, loaders: map[string]bool{}}
}

// closure resolves everything and returns the objects to bundle.
func (r *resolver) closure(ctx context.Context, programs []string) ([]*object, error) {
	var queue, progs []*object
	for _, p := range programs {
		o, err := loadObject(p, nil)
		if err != nil {
			return nil, err
		}
		if o.interp != "" {
			r.loaders[filepath.Base(o.interp)] = true
		}
		progs = append(progs, o)
		queue = append(queue, o)
	}
	defer r.markLoaders()
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := queue[0]
		queue = queue[1:]
		for _, name := range o.needed {
			if r.seen[name] {
				continue
			}
			r.seen[name] = true
			path, from, err := r.find(name, o)
			if !r.opts.includeLibc && libcPattern.MatchString(filepath.Base(name)) {
				// Left to the host: where it is there does not matter.
				r.libs = append(r.libs, Library{Name: name, Path: path, From: from, By: o.path, Skipped: true})
				continue
			}
			if err != nil {
				return nil, err
			}
			lib := Library{Name: name, Path: path, From: from, By: o.path}
			dep, err := loadObject(path, o)
			if err != nil {
				return nil, pkgerr.Wrap("patchelf", err, "loading %s (needed by %s)", path, o.path)
			}
			if dep.soname != "" {
				r.seen[dep.soname] = true
			}
			if dep.interp != "" {
				r.loaders[filepath.Base(dep.interp)] = true
			}
			r.libs = append(r.libs, lib)
			queue = append(queue, dep)
		}
	}
	return progs, nil
}

// markLoaders flags the libraries that are a loader some object names.
func (r *resolver) markLoaders() {
	for i, l := range r.libs {
		r.libs[i].Loader = r.loaders[filepath.Base(l.Name)] || l.Path != "" && r.loaders[filepath.Base(l.Path)]
	}
}

// find searches for one needed library of o.
func (r *resolver) find(name string, o *object) (string, Source, error) {
	if strings.Contains(name, "/") {
		if r.usable(name, o) {
			return name, FromPath, nil
		}
		return "", "", fmt.Errorf("%w: %s (needed by %s)", ErrNotFound, name, o.path)
	}
	try := func(dirs []string) (string, bool) {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if r.usable(p, o) {
				return p, true
			}
		}
		return "", false
	}
	if len(o.runpath) == 0 {
		for l := o; l != nil; l = l.parent {
			if p, ok := try(l.rpath); ok {
				return p, FromRPath, nil
			}
		}
	}
	if p, ok := try(r.opts.libraryPath); ok {
		return p, FromLibraryPath, nil
	}
	if p, ok := try(o.runpath); ok {
		return p, FromRunPath, nil
	}
	if !o.nodeflib {
		for _, e := range r.loadCache() {
			if e.Name == name && e.Hwcap == 0 && r.usable(e.Path, o) {
				return e.Path, FromCache, nil
			}
		}
		dirs := r.opts.defaultDirs
		if dirs == nil {
			dirs = defaultDirs(o.class, o.machine)
		}
		if p, ok := try(dirs); ok {
			return p, FromDefault, nil
		}
	}
	return "", "", fmt.Errorf("%w: %s (needed by %s)", ErrNotFound, name, o.path)
}

func (r *resolver) loadCache() []CacheEntry {
	if r.cached {
		return r.cache
	}
	r.cached = true
	path := r.opts.cache
	if path == "" {
		return nil
	}
	r.cache, _ = LoadCache(path) // no cache: the loader goes on to the default paths too
	return r.cache
}

// usable reports whether path is an ELF shared object the loader would
// accept for o (same class and machine).
func (r *resolver) usable(path string, o *object) bool {
	fd, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fd.Close()
	ef, err := elf.NewFile(fd)
	if err != nil {
		return false
	}
	return ef.Class == o.class && ef.Machine == o.machine
}
