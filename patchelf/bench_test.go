package patchelf_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/patchelf"
)

// cc1 is a large dynamically linked ET_EXEC (about 33 MB).
const cc1 = "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"

var benchRPath = "$ORIGIN/../lib:$ORIGIN/../lib/" + strings.Repeat("gleaner-bundle/", 8) + "x86_64-linux-gnu"

func cc1Copy(b *testing.B, dir string) (string, int64) {
	b.Helper()
	if _, err := os.Stat(cc1); err != nil {
		testenv.RequireBinary(b, "cc1-of-gcc-12")
	}
	src, err := os.Open(cc1)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	p := filepath.Join(dir, "cc1")
	dst, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(dst, src)
	if err != nil {
		b.Fatal(err)
	}
	dst.Close()
	return p, n
}

// BenchmarkSetRPathGrow: open cc1, set an rpath longer than any string it
// has, save to a new file. MB/s is over the input size. "origin-path" is
// the bundler's kind of path (it fits in the slack after the tables);
// "3000-bytes" does not fit and moves the tables after .dynstr.
func BenchmarkSetRPathGrow(b *testing.B) {
	dir := b.TempDir()
	in, size := cc1Copy(b, dir)
	for _, c := range []struct{ name, rpath string }{
		{"origin-path", benchRPath},
		{"3000-bytes", "$ORIGIN/../lib:" + strings.Repeat("/long/path", 300)},
	} {
		b.Run(c.name, func(b *testing.B) {
			out := filepath.Join(dir, "out")
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				f, err := patchelf.Open(in)
				if err != nil {
					b.Fatal(err)
				}
				if err := f.SetRPath(c.rpath); err != nil {
					b.Fatal(err)
				}
				if err := f.SaveAs(out); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
			st, _ := os.Stat(out)
			b.ReportMetric(float64(st.Size()-size), "growth-bytes")
		})
	}
}

// BenchmarkCommand compares whole processes on the same file:
// gleaner-patchelf --set-rpath <long $ORIGIN path> against Debian's
// patchelf. Each iteration edits a fresh copy in place.
func BenchmarkCommand(b *testing.B) {
	deb := testenv.RequireBinary(b, "patchelf")
	gobin := testenv.RequireBinary(b, "go")
	dir := b.TempDir()
	ours := filepath.Join(dir, "gleaner-patchelf")
	if out, err := exec.Command(gobin, "build", "-o", ours, "github.com/gleaner/gleaner/examples/patchelf").CombinedOutput(); err != nil {
		b.Fatalf("building gleaner-patchelf: %v\n%s", err, out)
	}
	for _, tool := range []struct{ name, bin string }{{"gleaner", ours}, {"debian", deb}} {
		b.Run(tool.name, func(b *testing.B) {
			var in string
			var size int64
			for b.Loop() {
				b.StopTimer()
				in, size = cc1Copy(b, dir)
				b.StartTimer()
				if out, err := exec.Command(tool.bin, "--set-rpath", benchRPath, in).CombinedOutput(); err != nil {
					b.Fatalf("%s: %v\n%s", tool.bin, err, out)
				}
			}
			st, _ := os.Stat(in)
			b.ReportMetric(float64(st.Size()-size), "growth-bytes")
		})
	}
}
