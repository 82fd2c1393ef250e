// Command patchelf (built as gleaner-patchelf) edits ELF executables and
// shared libraries with the same command line, output, messages and exit
// codes as NixOS patchelf 0.19, so existing scripts run unchanged:
//
//	gleaner-patchelf --set-rpath '$ORIGIN/../lib' bin/agent
//	gleaner-patchelf --print-needed bin/agent
package main

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/gleaner/gleaner/patchelf"
)

// version is the patchelf whose behaviour this command matches.
const version = "patchelf 0.19.0"

const usage = `syntax: %s
  [--set-interpreter FILENAME]
  [--page-size SIZE]
  [--print-interpreter]
  [--print-os-abi]		Prints 'EI_OSABI' field of ELF header
  [--set-os-abi ABI]		Sets 'EI_OSABI' field of ELF header to ABI.
  [--print-soname]		Prints 'DT_SONAME' entry of .dynamic section. Raises an error if DT_SONAME doesn't exist
  [--set-soname SONAME]		Sets 'DT_SONAME' entry to SONAME.
  [--set-rpath RPATH]
  [--add-rpath RPATH]
  [--remove-rpath]
  [--shrink-rpath]
  [--allowed-rpath-prefixes PREFIXES]		With '--shrink-rpath', reject rpath entries not starting with the allowed prefix
  [--print-rpath]
  [--force-rpath]
  [--add-needed LIBRARY]
  [--remove-needed LIBRARY]
  [--replace-needed LIBRARY NEW_LIBRARY]
  [--print-needed]
  [--no-default-lib]
  [--no-sort]		Do not sort program+section headers; useful for debugging patchelf.
  [--clear-symbol-version SYMBOL]
  [--add-debug-tag]
  [--build-resolution-cache]
  [--print-execstack]		Prints whether the object requests an executable stack
  [--clear-execstack]
  [--set-execstack]
  [--rename-dynamic-symbols NAME_MAP_FILE]	Renames dynamic symbols. The map file should contain two symbols (old_name new_name) per line
  [--no-clobber-old-sections]		Do not clobber old section values - only use when the binary expects to find section info at the old location.
  [--output FILE]
  [--debug]
  [--version]
  FILENAME...
`

// options are the parsed command line, named after patchelf's variables.
type options struct {
	newInterpreter                     string
	printInterpreter, printSoname      bool
	printOSABI, setOSABI               bool
	newOSABI                           string
	setSoname                          bool
	newSoname                          string
	removeRPath, shrinkRPath           bool
	allowedPrefixes                    []string
	setRPath, addRPath, printRPath     bool
	newRPath                           string
	forceRPath, printNeeded            bool
	addNeeded, removeNeeded, clearSym  map[string]bool
	replaceNeeded                      map[string]string
	printExecstack, clearExecstack     bool
	setExecstack                       bool
	renameSymbols                      map[string]string
	renameDynamicSymbols               bool
	output                             string
	noDefaultLib, addDebugTag          bool
	buildResolutionCache, keepOldBytes bool
	pageSize                           uint64
	files                              []string
}

// usageError is a bad command line; the message is patchelf's.
type usageError string

func (e usageError) Error() string { return string(e) }

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) <= 1 {
		fmt.Fprintf(stderr, usage, args[0])
		return 1
	}
	o, exit, err := parse(args)
	if exit >= 0 {
		switch {
		case err == errVersion:
			fmt.Fprintln(stdout, version)
		case exit == 0 && err == nil:
			fmt.Fprintf(stderr, usage, args[0])
		}
		return exit
	}
	if err == nil {
		for _, name := range o.files {
			if err = o.patch(name, stdout, stderr); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, message(err))
		return 1
	}
	return 0
}

// parse reads the arguments as patchelf does: options anywhere, anything
// else is a file name. exit >= 0 means stop with that status.
func parse(args []string) (o options, exit int, err error) {
	o = options{addNeeded: map[string]bool{}, removeNeeded: map[string]bool{},
		clearSym: map[string]bool{}, replaceNeeded: map[string]string{}, renameSymbols: map[string]string{}}
	i := 1
	next := func() (string, error) {
		i++
		if i >= len(args) {
			return "", usageError("missing argument")
		}
		return args[i], nil
	}
	// value is an argument that may be @file: the contents of the file.
	value := func() (string, error) {
		v, err := next()
		if err != nil || !strings.HasPrefix(v, "@") {
			return v, err
		}
		b, err := readArgFile(v[1:])
		return string(b), err
	}
	for ; i < len(args); i++ {
		var v string
		switch a := args[i]; a {
		case "--set-interpreter", "--interpreter":
			o.newInterpreter, err = value()
		case "--page-size":
			if v, err = next(); err == nil {
				if n := atoi(v); n <= 0 {
					err = usageError("invalid argument to --page-size")
				} else {
					o.pageSize = uint64(n)
				}
			}
		case "--print-interpreter":
			o.printInterpreter = true
		case "--print-os-abi":
			o.printOSABI = true
		case "--set-os-abi":
			o.setOSABI = true
			o.newOSABI, err = value()
		case "--print-soname":
			o.printSoname = true
		case "--set-soname":
			o.setSoname = true
			o.newSoname, err = value()
		case "--remove-rpath":
			o.removeRPath = true
		case "--shrink-rpath":
			o.shrinkRPath = true
		case "--allowed-rpath-prefixes":
			v, err = next()
			o.allowedPrefixes = splitColons(v)
		case "--set-rpath":
			o.setRPath = true
			o.newRPath, err = value()
		case "--add-rpath":
			o.addRPath = true
			o.newRPath, err = value()
		case "--print-rpath":
			o.printRPath = true
		case "--force-rpath":
			o.forceRPath = true
		case "--print-needed":
			o.printNeeded = true
		case "--no-sort":
			// patchelf sorts the headers it rewrites; this package never
			// reorders them, so there is nothing to turn off.
		case "--add-needed":
			v, err = value()
			o.addNeeded[v] = true
		case "--remove-needed":
			v, err = value()
			o.removeNeeded[v] = true
		case "--replace-needed":
			if i+2 >= len(args) {
				return o, -1, usageError("missing argument(s)")
			}
			o.replaceNeeded[args[i+1]] = args[i+2]
			i += 2
		case "--clear-symbol-version":
			v, err = value()
			o.clearSym[v] = true
		case "--print-execstack":
			o.printExecstack = true
		case "--clear-execstack":
			o.clearExecstack = true
		case "--set-execstack":
			o.setExecstack = true
		case "--output":
			o.output, err = value()
		case "--debug":
		case "--no-default-lib":
			o.noDefaultLib = true
		case "--add-debug-tag":
			o.addDebugTag = true
		case "--build-resolution-cache":
			o.buildResolutionCache = true
		case "--rename-dynamic-symbols":
			o.renameDynamicSymbols = true
			if v, err = next(); err == nil {
				err = readSymbolMap(v, o.renameSymbols)
			}
		case "--no-clobber-old-sections":
			o.keepOldBytes = true
		case "--help", "-h":
			return o, 0, nil
		case "--version":
			return o, 0, errVersion
		default:
			o.files = append(o.files, a)
		}
		if err != nil {
			return o, -1, err
		}
	}
	switch {
	case len(o.files) == 0:
		return o, -1, usageError("missing filename")
	case o.forceRPath && o.buildResolutionCache:
		return o, -1, usageError("--build-resolution-cache cannot be combined with --force-rpath")
	case o.output != "" && len(o.files) != 1:
		return o, -1, usageError("--output option only allowed with single input file")
	case o.setRPath && o.addRPath:
		return o, -1, usageError("--set-rpath option not allowed with --add-rpath")
	}
	return o, -1, nil
}

var errVersion = errors.New("version printed")

// atoi reads a number as C's atoi: leading digits, 0 when there are none.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || end == 0 && (s[0] == '-' || s[0] == '+')) {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}

// splitColons splits a colon-separated list as patchelf does: empty
// entries are kept, except a trailing one.
func splitColons(s string) []string {
	parts := strings.Split(s, ":")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// readArgFile reads the file of an @file argument; its errors are worded
// as patchelf's ("getting info about 'x': No such file or directory").
func readArgFile(name string) ([]byte, error) {
	if _, err := os.Stat(name); err != nil {
		return nil, err
	}
	return os.ReadFile(name)
}

// readSymbolMap reads an --rename-dynamic-symbols map file: "old new" per
// line, up to the first line without a name, as patchelf reads it.
func readSymbolMap(name string, into map[string]string) error {
	fd, err := os.Open(name)
	if err != nil {
		return usageError(fmt.Sprintf("Cannot open map file %s: %s", name, strerror(err)))
	}
	defer fd.Close()
	sc := bufio.NewScanner(fd)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			break
		}
		if len(fields) < 2 {
			return usageError(fmt.Sprintf("%s:%d: Map file line is missing the second element", name, line))
		}
		from, to := fields[0], fields[1]
		if _, dup := into[from]; dup {
			return usageError(fmt.Sprintf("%s:%d: Name '%s' appears twice in the map file", name, line, from))
		}
		if strings.Contains(from, "@") || strings.Contains(to, "@") {
			return usageError(fmt.Sprintf("%s:%d: Name pair contains version tag: %s %s", name, line, from, to))
		}
		into[from] = to
	}
	return sc.Err()
}

// patch applies the options to one file in patchelf's order: prints see
// the state left by the edits before them.
func (o *options) patch(name string, stdout, stderr io.Writer) error {
	f, err := patchelf.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if o.pageSize != 0 {
		if err := f.SetPageSize(o.pageSize); err != nil {
			return err
		}
	}
	if o.keepOldBytes {
		f.KeepOldSections()
	}
	warned := 0
	warn := func() {
		for _, w := range f.Warnings()[warned:] {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		warned = len(f.Warnings())
	}
	defer warn()
	for _, step := range []func() error{
		func() error { return o.prints(f, stdout) },
		func() error { return o.headerEdits(f, stdout) },
		func() error { return o.rpathEdits(f, stdout) },
		func() error { return o.dynamicEdits(f, stdout) },
	} {
		err := step()
		warn()
		if err != nil {
			return err
		}
	}
	if o.output != "" {
		return f.SaveAs(o.output)
	}
	return f.Save()
}

// prints handles --print-interpreter, --print-os-abi and --set-os-abi,
// --print-soname and --set-soname, and --set-interpreter.
func (o *options) prints(f *patchelf.File, stdout io.Writer) error {
	if o.printInterpreter {
		s, err := f.Interpreter()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, s)
	}
	if o.printOSABI {
		fmt.Fprintln(stdout, osabiName(f.Info().OSABI))
	}
	if o.setOSABI {
		abi, ok := parseOSABI(o.newOSABI)
		if !ok {
			return usageError("unrecognized OS ABI")
		}
		f.SetOSABI(abi)
	}
	// patchelf reads and writes DT_SONAME of shared objects only.
	isLib := f.Info().Type == elf.ET_DYN
	if o.printSoname && isLib {
		s, ok, err := f.Soname()
		if err != nil {
			return err
		}
		if ok && s != "" {
			fmt.Fprintln(stdout, s)
		}
	}
	if o.setSoname && isLib {
		if err := f.SetSoname(o.newSoname); err != nil {
			return err
		}
	}
	if o.newInterpreter != "" {
		if err := f.SetInterpreter(o.newInterpreter); err != nil {
			return err
		}
	}
	return nil
}

// headerEdits handles --print-rpath and the execstack flags, which come
// between the interpreter and the rpath edits in patchelf.
func (o *options) headerEdits(f *patchelf.File, stdout io.Writer) error {
	if o.printRPath {
		rp, err := f.RPath()
		switch {
		case errors.Is(err, patchelf.ErrNoBits):
			// A separate debug file: patchelf prints nothing.
		case err != nil:
			return err
		default:
			fmt.Fprintln(stdout, rp)
		}
	}
	switch {
	case o.printExecstack:
		c := '?'
		if exec, stated := f.ExecStack(); stated && exec {
			c = 'X'
		} else if stated {
			c = '-'
		}
		fmt.Fprintf(stdout, "execstack: %c\n", c)
	case o.clearExecstack:
		f.SetExecStack(false)
	case o.setExecstack:
		f.SetExecStack(true)
	}
	return nil
}

// rpathEdits handles the rpath edits and --print-needed.
func (o *options) rpathEdits(f *patchelf.File, stdout io.Writer) error {
	var ropts []patchelf.RPathOption
	if o.forceRPath {
		ropts = append(ropts, patchelf.ForceRPath())
	}
	var err error
	switch {
	case o.shrinkRPath:
		err = f.ShrinkRPath(o.allowedPrefixes, ropts...)
	case o.removeRPath:
		err = f.RemoveRPath()
	case o.setRPath:
		err = f.SetRPath(o.newRPath, ropts...)
	case o.addRPath:
		err = f.AddRPath(o.newRPath, ropts...)
	}
	if err != nil && !errors.Is(err, patchelf.ErrNoBits) { // patchelf leaves a debug file alone
		return err
	}
	if o.printNeeded {
		needed, err := f.Needed()
		if err != nil {
			return err
		}
		for _, n := range needed {
			fmt.Fprintln(stdout, n)
		}
	}
	return nil
}

// dynamicEdits handles the needed libraries, symbol versions, flags, the
// debug tag, the resolution cache and symbol renames, in patchelf's order.
func (o *options) dynamicEdits(f *patchelf.File, stdout io.Writer) error {
	if err := f.RemoveNeeded(slices.Sorted(maps.Keys(o.removeNeeded))...); err != nil {
		return err
	}
	if err := f.ReplaceNeeded(o.replaceNeeded); err != nil {
		return err
	}
	if err := f.AddNeeded(slices.Sorted(maps.Keys(o.addNeeded))...); err != nil {
		return err
	}
	for _, s := range slices.Sorted(maps.Keys(o.clearSym)) {
		if err := f.ClearSymbolVersion(s); err != nil {
			return err
		}
	}
	if o.noDefaultLib {
		if err := f.NoDefaultLib(); err != nil {
			return err
		}
	}
	if o.addDebugTag {
		if err := f.AddDebugTag(); err != nil {
			return err
		}
	}
	if o.buildResolutionCache {
		if err := f.BuildResolutionCache(); err != nil {
			if errors.Is(err, patchelf.ErrExists) {
				return usageError("--build-resolution-cache: " + strings.TrimPrefix(err.Error(), patchelf.ErrExists.Error()+": "))
			}
			return err
		}
	}
	if o.renameDynamicSymbols {
		return f.RenameDynamicSymbols(o.renameSymbols)
	}
	return nil
}

// osabiNames are patchelf's names of the OS ABIs it prints.
var osabiNames = map[elf.OSABI]string{
	elf.ELFOSABI_NONE: "System V", elf.ELFOSABI_HPUX: "HP-UX", elf.ELFOSABI_NETBSD: "NetBSD",
	elf.ELFOSABI_LINUX: "Linux", elf.ELFOSABI_HURD: "GNU Hurd", elf.ELFOSABI_SOLARIS: "Solaris",
	elf.ELFOSABI_AIX: "AIX", elf.ELFOSABI_IRIX: "IRIX", elf.ELFOSABI_FREEBSD: "FreeBSD",
	elf.ELFOSABI_TRU64: "Tru64", elf.ELFOSABI_OPENBSD: "OpenBSD", elf.ELFOSABI_OPENVMS: "OpenVMS",
}

func osabiName(abi elf.OSABI) string {
	if s, ok := osabiNames[abi]; ok {
		return s
	}
	return fmt.Sprintf("0x%02X", uint8(abi))
}

// osabiAliases are the other names patchelf accepts for --set-os-abi.
var osabiAliases = map[string]elf.OSABI{
	"system-v": elf.ELFOSABI_NONE, "sysv": elf.ELFOSABI_NONE, "gnu": elf.ELFOSABI_LINUX,
	"gnu-hurd": elf.ELFOSABI_HURD, "hurd": elf.ELFOSABI_HURD,
}

// parseOSABI reads an OS ABI name as patchelf does: trimmed, any case,
// the names it prints and a few aliases.
func parseOSABI(s string) (elf.OSABI, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for abi, name := range osabiNames {
		if strings.ToLower(name) == s {
			return abi, true
		}
	}
	abi, ok := osabiAliases[s]
	return abi, ok
}

// message renders an error the way patchelf does: "patchelf: " and its
// own message where it has one, "getting info about 'x': No such file or
// directory" for system errors.
func message(err error) string {
	var fe *patchelf.FormatError
	if errors.As(err, &fe) {
		return "patchelf: " + fe.Msg
	}
	for _, s := range []error{patchelf.ErrNotELF, patchelf.ErrWrongType, patchelf.ErrStatic, patchelf.ErrNoInterpreter} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	var ue usageError
	if errors.As(err, &ue) {
		return "patchelf: " + string(ue)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		var op string
		switch pe.Op {
		case "stat", "lstat":
			op = "getting info about"
		case "open":
			op = "opening"
		case "read":
			op = "reading"
		default:
			op = pe.Op
		}
		return fmt.Sprintf("patchelf: %s '%s': %s", op, pe.Path, strerror(pe.Err))
	}
	return "patchelf: " + strings.TrimPrefix(err.Error(), "patchelf: ")
}

// strerror spells an errno as C's strerror does ("No such file or directory").
func strerror(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) || err.Error() == "is a directory" {
		s := err.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}
