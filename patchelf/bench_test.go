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

var rpath3000 = "$ORIGIN/../lib:" + strings.Repeat("/long/path", 300)

// BenchmarkSetRPathGrow: open cc1, set an rpath longer than any string it
// has, save to a new file. MB/s is over the input size. "origin-path" is
// the bundler's kind of path (it fits in the slack after the tables);
// "3000-bytes" does not fit: the smallest tables after .dynstr move to a
// new segment (patchelf 0.14.3 grows this file by 4096 bytes, 0.19 by
// 8192). repeat-growth-bytes is what a second edit of the same size, on
// the edited file, adds (0: the first edit's room is reused).
func BenchmarkSetRPathGrow(b *testing.B) {
	dir := b.TempDir()
	in, size := cc1Copy(b, dir)
	for _, c := range []struct{ name, rpath string }{
		{"origin-path", benchRPath},
		{"3000-bytes", rpath3000},
	} {
		b.Run(c.name, func(b *testing.B) {
			out := filepath.Join(dir, "out")
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				setRPath(b, in, out, c.rpath)
			}
			st, _ := os.Stat(out)
			b.ReportMetric(float64(st.Size()-size), "growth-bytes")
			again := filepath.Join(dir, "again")
			setRPath(b, out, again, strings.ReplaceAll(c.rpath, "lib", "LIB"))
			st2, _ := os.Stat(again)
			b.ReportMetric(float64(st2.Size()-st.Size()), "repeat-growth-bytes")
		})
	}
}

func setRPath(b *testing.B, in, out, rpath string) {
	b.Helper()
	f, err := patchelf.Open(in)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.SetRPath(rpath); err != nil {
		b.Fatal(err)
	}
	if err := f.SaveAs(out); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommand compares whole processes on the same file:
// gleaner-patchelf --set-rpath <long $ORIGIN path>, and a 3000-byte one,
// against Debian's patchelf, the baseline of the same run. Each iteration
// edits a fresh copy in place.
func BenchmarkCommand(b *testing.B) {
	deb := testenv.RequireBinary(b, "patchelf")
	gobin := testenv.RequireBinary(b, "go")
	dir := b.TempDir()
	ours := filepath.Join(dir, "gleaner-patchelf")
	if out, err := exec.Command(gobin, "build", "-o", ours, "github.com/gleaner/gleaner/examples/patchelf").CombinedOutput(); err != nil {
		b.Fatalf("building gleaner-patchelf: %v\n%s", err, out)
	}
	for _, rp := range []struct{ name, rpath string }{{"", benchRPath}, {"-3000-bytes", rpath3000}} {
		for _, tool := range []struct{ name, bin string }{{"gleaner", ours}, {"debian", deb}} {
			b.Run(tool.name+rp.name, func(b *testing.B) {
				var in string
				var size int64
				for b.Loop() {
					b.StopTimer()
					in, size = cc1Copy(b, dir)
					b.StartTimer()
					if out, err := exec.Command(tool.bin, "--set-rpath", rp.rpath, in).CombinedOutput(); err != nil {
						b.Fatalf("%s: %v\n%s", tool.bin, err, out)
					}
				}
				st, _ := os.Stat(in)
				b.ReportMetric(float64(st.Size()-size), "growth-bytes")
			})
		}
	}
}
