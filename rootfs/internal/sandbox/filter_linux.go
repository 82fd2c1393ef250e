package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// EncodeFilter turns a BPF program into the bytes Config.Seccomp holds.
func EncodeFilter(f []unix.SockFilter) []byte {
	if len(f) == 0 {
		return nil
	}
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*int(unsafe.Sizeof(f[0])))...)
}

// decodeFilter is EncodeFilter's inverse.
func decodeFilter(b []byte) []unix.SockFilter {
	n := len(b) / int(unsafe.Sizeof(unix.SockFilter{}))
	if n == 0 {
		return nil
	}
	out := make([]unix.SockFilter, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(b)), b)
	return out
}
