package sandbox

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
)

// The Config and the Messages cross the pipes as length-prefixed binary
// records, not JSON: encoding/json's first use in a fresh process builds
// its reflection caches, which cost the helper about 0.2 ms of every
// launch, and it made the helper's binary a third larger. A record is a
// uvarint length, then its fields in a fixed order: integers as uvarints,
// strings and byte slices as a uvarint length and the bytes, slices as a
// uvarint count and the elements.

// errShort means a record ended before its last field.
var errShort = errors.New("record ends early")

// maxRecord bounds a record's length: a config is a few KiB.
const maxRecord = 1 << 20

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int)     { e.b = binary.AppendVarint(e.b, int64(v)) }
func (e *encoder) bytes(v []byte) {
	e.uint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) string(v string) {
	e.uint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) bool(v bool) {
	if v {
		e.uint(1)
	} else {
		e.uint(0)
	}
}
func (e *encoder) strings(v []string) {
	e.uint(uint64(len(v)))
	for _, s := range v {
		e.string(s)
	}
}

// decoder reads fields until the first error, which it keeps.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) uint32() uint32 {
	v := d.uint()
	if v > 1<<32-1 && d.err == nil {
		d.err = errors.New("value " + strconv.FormatUint(v, 10) + " overflows 32 bits")
	}
	return uint32(v)
}

// count reads a length or element count, no more than the bytes left (each
// element takes at least one).
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		if d.err == nil {
			d.err = errShort
		}
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }
func (d *decoder) bool() bool     { return d.uint() != 0 }

func (d *decoder) strings() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.string()
	}
	return v
}

// AppendConfig appends cfg's record to b.
func AppendConfig(b []byte, cfg *Config) []byte {
	e := &encoder{b: b}
	var body encoder
	body.string(cfg.Root)
	body.int(cfg.Mode)
	body.strings(cfg.Args)
	body.strings(cfg.Env)
	body.string(cfg.Dir)
	body.uint(uint64(cfg.UID))
	body.uint(uint64(cfg.GID))
	body.uint(uint64(len(cfg.Groups)))
	for _, g := range cfg.Groups {
		body.uint(uint64(g))
	}
	body.uint(uint64(len(cfg.Capabilities)))
	for _, c := range cfg.Capabilities {
		body.int(c)
	}
	body.int(cfg.LastCapability)
	body.uint(uint64(len(cfg.Rlimits)))
	for _, rl := range cfg.Rlimits {
		body.int(rl.Resource)
		body.uint(rl.Cur)
		body.uint(rl.Max)
	}
	body.int(cfg.Pdeathsig)
	body.int(cfg.Parent)
	body.string(cfg.Hostname)
	body.bool(cfg.CgroupNS)
	body.bool(cfg.LoopbackUp)
	body.bool(cfg.UserNS)
	body.bool(cfg.Init)
	body.strings(cfg.MaskedPaths)
	body.strings(cfg.ReadonlyPaths)
	body.uint(uint64(len(cfg.Devices)))
	for _, dev := range cfg.Devices {
		body.string(dev.Name)
		body.uint(uint64(dev.Major))
		body.uint(uint64(dev.Minor))
	}
	body.uint(uint64(len(cfg.Seccomp)))
	for _, f := range cfg.Seccomp {
		body.bytes(f)
	}
	e.bytes(body.b)
	return e.b
}

// decodeConfig is AppendConfig's inverse, for one record's body.
func decodeConfig(b []byte) (Config, error) {
	d := &decoder{b: b}
	var cfg Config
	cfg.Root = d.string()
	cfg.Mode = d.int()
	cfg.Args = d.strings()
	cfg.Env = d.strings()
	cfg.Dir = d.string()
	cfg.UID = d.uint32()
	cfg.GID = d.uint32()
	if n := d.count(); n > 0 {
		cfg.Groups = make([]uint32, n)
		for i := range cfg.Groups {
			cfg.Groups[i] = d.uint32()
		}
	}
	if n := d.count(); n > 0 {
		cfg.Capabilities = make([]int, n)
		for i := range cfg.Capabilities {
			cfg.Capabilities[i] = d.int()
		}
	}
	cfg.LastCapability = d.int()
	if n := d.count(); n > 0 {
		cfg.Rlimits = make([]Rlimit, n)
		for i := range cfg.Rlimits {
			cfg.Rlimits[i] = Rlimit{Resource: d.int(), Cur: d.uint(), Max: d.uint()}
		}
	}
	cfg.Pdeathsig = d.int()
	cfg.Parent = d.int()
	cfg.Hostname = d.string()
	cfg.CgroupNS = d.bool()
	cfg.LoopbackUp = d.bool()
	cfg.UserNS = d.bool()
	cfg.Init = d.bool()
	cfg.MaskedPaths = d.strings()
	cfg.ReadonlyPaths = d.strings()
	if n := d.count(); n > 0 {
		cfg.Devices = make([]Device, n)
		for i := range cfg.Devices {
			cfg.Devices[i] = Device{Name: d.string(), Major: d.uint32(), Minor: d.uint32()}
		}
	}
	if n := d.count(); n > 0 {
		cfg.Seccomp = make([][]byte, n)
		for i := range cfg.Seccomp {
			cfg.Seccomp[i] = d.bytes()
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = errors.New(strconv.Itoa(len(d.b)) + " bytes after the last field")
	}
	return cfg, d.err
}

// Message kinds, the first field of a Message record.
const (
	kindError   = 1
	kindStarted = 2
	kindExited  = 3
)

// AppendMessage appends m's record to b.
func AppendMessage(b []byte, m Message) []byte {
	var body encoder
	switch {
	case m.Error != "":
		body.uint(kindError)
		body.string(m.Step)
		body.string(m.Error)
		body.bool(m.NotFound)
	case m.Exited != nil:
		body.uint(kindExited)
		body.int(m.Exited.Code)
		body.int(m.Exited.Signal)
	default:
		body.uint(kindStarted)
		body.int(m.Started)
	}
	e := &encoder{b: b}
	e.bytes(body.b)
	return e.b
}

func decodeMessage(b []byte) (Message, error) {
	d := &decoder{b: b}
	var m Message
	switch kind := d.uint(); kind {
	case kindError:
		m.Step, m.Error, m.NotFound = d.string(), d.string(), d.bool()
		if m.Error == "" && d.err == nil {
			d.err = errors.New("error message without text")
		}
	case kindStarted:
		m.Started = d.int()
	case kindExited:
		m.Exited = &Exit{Code: d.int(), Signal: d.int()}
	default:
		if d.err == nil {
			d.err = errors.New("unknown message kind " + strconv.FormatUint(kind, 10))
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = errors.New(strconv.Itoa(len(d.b)) + " bytes after the last field")
	}
	return m, d.err
}

// recordReader is what records are read from (a *bufio.Reader).
type recordReader interface {
	io.Reader
	io.ByteReader
}

// ReadMessage reads the next Message record from r; io.EOF when r ends
// before one starts.
func ReadMessage(r recordReader) (Message, error) {
	body, err := readRecord(r)
	if err != nil {
		return Message{}, err
	}
	m, err := decodeMessage(body)
	if err != nil {
		return Message{}, errors.New("malformed message from the helper: " + err.Error())
	}
	return m, nil
}

// readRecord reads one record's body; io.EOF when r ends before it starts,
// io.ErrUnexpectedEOF when it ends inside.
func readRecord(r recordReader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxRecord {
		return nil, errors.New("record of " + strconv.FormatUint(n, 10) + " bytes, more than " + strconv.Itoa(maxRecord))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}
