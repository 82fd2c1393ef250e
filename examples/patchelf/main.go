// Command patchelf (built as gleaner-patchelf) edits ELF executables and
// shared libraries with the same command line, output and error messages
// as Debian's patchelf 0.14.3, so existing scripts run unchanged:
//
//	gleaner-patchelf --set-rpath '$ORIGIN/../lib' bin/agent
//	gleaner-patchelf --print-needed bin/agent
package main

import (
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

const usage = `syntax: %s
  [--set-interpreter FILENAME]
  [--page-size SIZE]
  [--print-interpreter]
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
  [--clear-symbol-version SYMBOL]
  [--output FILE]
  [--debug]
  [--version]
  FILENAME...
`

// options are the parsed command line, named after patchelf's variables.
type options struct {
	newInterpreter                    string
	printInterpreter, printSoname     bool
	setSoname                         bool
	newSoname                         string
	removeRPath, shrinkRPath          bool
	allowedPrefixes                   []string
	setRPath, addRPath, printRPath    bool
	newRPath                          string
	forceRPath, printNeeded           bool
	addNeeded, removeNeeded, clearSym map[string]bool
	replaceNeeded                     map[string]string
	output                            string
	noDefaultLib                      bool
	pageSize                          uint64
	files                             []string
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
			fmt.Fprintln(stdout, "patchelf 0.14.3")
		case exit == 0 && err == nil:
			fmt.Fprintf(stderr, usage, args[0])
		}
		return exit
	}
	if err == nil {
		for _, name := range o.files {
			if err = o.patch(name, stdout); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "patchelf: %s\n", message(err))
		return 1
	}
	return 0
}

// parse reads the arguments as patchelf does: options anywhere, anything
// else is a file name. exit >= 0 means stop with that status.
func parse(args []string) (o options, exit int, err error) {
	o = options{addNeeded: map[string]bool{}, removeNeeded: map[string]bool{},
		clearSym: map[string]bool{}, replaceNeeded: map[string]string{}}
	i := 1
	next := func() (string, error) {
		i++
		if i >= len(args) {
			return "", usageError("missing argument")
		}
		return args[i], nil
	}
	for ; i < len(args); i++ {
		var v string
		switch a := args[i]; a {
		case "--set-interpreter", "--interpreter":
			v, err = next()
			o.newInterpreter = v
		case "--page-size":
			if v, err = next(); err == nil {
				if n, _ := strconv.Atoi(v); n <= 0 {
					err = usageError("invalid argument to --page-size")
				} else {
					o.pageSize = uint64(n)
				}
			}
		case "--print-interpreter":
			o.printInterpreter = true
		case "--print-soname":
			o.printSoname = true
		case "--set-soname":
			v, err = next()
			o.setSoname, o.newSoname = true, v
		case "--remove-rpath":
			o.removeRPath = true
		case "--shrink-rpath":
			o.shrinkRPath = true
		case "--allowed-rpath-prefixes":
			v, err = next()
			o.allowedPrefixes = strings.FieldsFunc(v, func(r rune) bool { return r == ':' })
		case "--set-rpath":
			v, err = next()
			o.setRPath, o.newRPath = true, v
		case "--add-rpath":
			v, err = next()
			o.addRPath, o.newRPath = true, v
		case "--print-rpath":
			o.printRPath = true
		case "--force-rpath":
			o.forceRPath = true
		case "--print-needed":
			o.printNeeded = true
		case "--add-needed":
			v, err = next()
			o.addNeeded[v] = true
		case "--remove-needed":
			v, err = next()
			o.removeNeeded[v] = true
		case "--replace-needed":
			if i+2 >= len(args) {
				return o, -1, usageError("missing argument(s)")
			}
			o.replaceNeeded[args[i+1]] = args[i+2]
			i += 2
		case "--clear-symbol-version":
			v, err = next()
			o.clearSym[v] = true
		case "--output":
			v, err = next()
			o.output = v
		case "--no-default-lib":
			o.noDefaultLib = true
		case "--debug":
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
	if len(o.files) == 0 {
		return o, -1, usageError("missing filename")
	}
	if o.output != "" && len(o.files) != 1 {
		return o, -1, usageError("--output option only allowed with single input file")
	}
	return o, -1, nil
}

var errVersion = errors.New("version printed")

// patch applies the options to one file in patchelf's order: prints see
// the state left by the edits before them.
func (o *options) patch(name string, stdout io.Writer) error {
	f, err := patchelf.Open(name)
	if err != nil {
		if errors.Is(err, patchelf.ErrStatic) && (o.printInterpreter || o.newInterpreter != "" && !o.printSoname && !o.setSoname) {
			return patchelf.ErrNoInterpreter
		}
		return err
	}
	defer f.Close()
	if o.pageSize != 0 {
		if err := f.SetPageSize(o.pageSize); err != nil {
			return err
		}
	}
	if o.printInterpreter {
		s, err := f.Interpreter()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, s)
	}
	// patchelf 0.14.3 reads and writes DT_SONAME of shared objects only.
	isLib := f.Info().Type == elf.ET_DYN
	if o.printSoname && isLib {
		if s, ok := f.Soname(); ok {
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
	if o.printRPath {
		fmt.Fprintln(stdout, f.RPath())
	}
	var ropts []patchelf.RPathOption
	if o.forceRPath {
		ropts = append(ropts, patchelf.ForceRPath())
	}
	switch {
	case o.shrinkRPath:
		err = f.ShrinkRPath(o.allowedPrefixes, ropts...)
	case o.removeRPath:
		f.RemoveRPath()
	case o.setRPath:
		err = f.SetRPath(o.newRPath, ropts...)
	case o.addRPath:
		err = f.AddRPath(o.newRPath, ropts...)
	}
	if err != nil {
		return err
	}
	if o.printNeeded {
		for _, n := range f.Needed() {
			fmt.Fprintln(stdout, n)
		}
	}
	f.RemoveNeeded(slices.Sorted(maps.Keys(o.removeNeeded))...)
	for _, old := range slices.Sorted(maps.Keys(o.replaceNeeded)) {
		if err := f.ReplaceNeeded(old, o.replaceNeeded[old]); err != nil {
			return err
		}
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
		f.NoDefaultLib()
	}
	if o.output != "" {
		return f.SaveAs(o.output)
	}
	return f.Save()
}

// message renders an error the way patchelf does: its own message where
// it has one, "getting info about 'x': No such file or directory" for
// system errors.
func message(err error) string {
	for _, s := range []error{patchelf.ErrMissingHeader, patchelf.ErrNotELF, patchelf.ErrWrongType,
		patchelf.ErrMissingProgramHeaders, patchelf.ErrMissingSectionHeaders, patchelf.ErrProgramHeaderSize,
		patchelf.ErrStatic, patchelf.ErrNoInterpreter} {
		if errors.Is(err, s) {
			return s.Error()
		}
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
		return fmt.Sprintf("%s '%s': %s", op, pe.Path, strerror(pe.Err))
	}
	return err.Error()
}

// strerror spells an errno as C's strerror does ("No such file or directory").
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) || err.Error() == "is a directory" {
		s := err.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}
