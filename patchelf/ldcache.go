package patchelf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

// The ld.so cache (/etc/ld.so.cache) is parsed by hand: no kept library
// reads it, and the format is small. Current glibc writes only the new
// format ("glibc-ld.so.cache1.1"); older ones prefix it with the old
// "ld.so-1.7.0" table, which is skipped.

const (
	cacheMagicOld = "ld.so-1.7.0"
	cacheMagicNew = "glibc-ld.so.cache"
	cacheVersion  = "1.1"
)

// CacheEntry is one library of the ld.so cache.
type CacheEntry struct {
	Name  string // the soname, e.g. "libz.so.1"
	Path  string // where it is, e.g. "/lib/x86_64-linux-gnu/libz.so.1"
	Flags int32  // FLAG_ELF_LIBC6 | architecture flags
	Hwcap uint64 // non-zero for glibc-hwcaps subdirectories
}

// LoadCache reads and parses an ld.so cache file.
func LoadCache(path string) ([]CacheEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCache(b)
}

// ParseCache parses the contents of an ld.so cache.
func ParseCache(b []byte) ([]CacheEntry, error) {
	base := 0
	if bytes.HasPrefix(b, []byte(cacheMagicOld)) {
		// Old header: magic (11 bytes + NUL pad), nlibs, then 12-byte entries.
		if len(b) < 16 {
			return nil, fmt.Errorf("%w: ld.so cache: truncated old header", ErrMalformed)
		}
		n := binary.LittleEndian.Uint32(b[12:])
		base = 16 + int(n)*12
		base = (base + 7) &^ 7
		if uint64(base) > uint64(len(b)) || n > uint32(len(b)) {
			return nil, fmt.Errorf("%w: ld.so cache: old table of %d entries past the end", ErrMalformed, n)
		}
	}
	hdr := b[base:]
	const hdrSize = 48
	if len(hdr) < hdrSize || !bytes.HasPrefix(hdr, []byte(cacheMagicNew+cacheVersion)) {
		return nil, fmt.Errorf("%w: ld.so cache: no %q header", ErrMalformed, cacheMagicNew+cacheVersion)
	}
	// The header says which byte order the cache uses through flags; the
	// counts are in the machine's order. Try little endian, then big.
	var bo binary.ByteOrder = binary.LittleEndian
	n := bo.Uint32(hdr[20:])
	if uint64(n)*24 > uint64(len(hdr)) {
		bo = binary.BigEndian
		n = bo.Uint32(hdr[20:])
	}
	if uint64(n)*24+hdrSize > uint64(len(hdr)) {
		return nil, fmt.Errorf("%w: ld.so cache: %d entries do not fit in %d bytes", ErrMalformed, n, len(hdr))
	}
	// String offsets are relative to the new header when an old table
	// precedes it, and to the file otherwise (which is the same place).
	str := func(off uint32) (string, error) {
		if uint64(off) >= uint64(len(hdr)) {
			return "", fmt.Errorf("%w: ld.so cache: string offset %#x past the end", ErrMalformed, off)
		}
		s := hdr[off:]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			return string(s[:i]), nil
		}
		return "", fmt.Errorf("%w: ld.so cache: unterminated string at %#x", ErrMalformed, off)
	}
	out := make([]CacheEntry, 0, n)
	for i := uint32(0); i < n; i++ {
		e := hdr[hdrSize+24*int(i):]
		k, err := str(bo.Uint32(e[4:]))
		if err != nil {
			return nil, err
		}
		v, err := str(bo.Uint32(e[8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, CacheEntry{Name: k, Path: v, Flags: int32(bo.Uint32(e[0:])), Hwcap: bo.Uint64(e[16:])})
	}
	return out, nil
}
