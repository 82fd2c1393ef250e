package rootfs_test

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

// BenchmarkLaunch starts `true` in a prepared busybox root and waits for it,
// in each mode, with every hardening on (namespaces, masked /proc, minimal
// /dev, capability drop, no_new_privs, seccomp, and in pivot_root mode the
// init), through the launch helper, as an unprivileged user. Each round
// also makes a bare launch, a clone(NEWNS|NEWPID) and exec of the same
// `true` from Go, what the kernel alone costs, so that both see the same
// load on a shared machine. It reports both p50s and their ratio (goal:
// ratio ≤ 2). Each iteration makes launchBatch launches; the metrics are
// per launch, ns/op per batch. The reexec variant re-executes the test binary as the helper
// instead (the fallback without a helper program), for comparison.
func BenchmarkLaunch(b *testing.B) {
	testenv.RequireRoot(b)
	root := filepath.Join(b.TempDir(), "root")
	buildBusyboxRoot(b, root)
	busybox := filepath.Join(root, "bin", "busybox")
	for _, c := range []struct {
		name   string
		mode   rootfs.LaunchMode
		helper string
	}{
		{"chroot", rootfs.ModeChroot, helperPath},
		{"pivot_root", rootfs.ModePivotRoot, helperPath},
		{"pivot_root-reexec", rootfs.ModePivotRoot, ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			if c.mode == rootfs.ModePivotRoot && !rootfs.PivotRootSupported() {
				testenv.RequireMountNamespace(b)
			}
			spec := rootfs.Spec{Root: root, Mode: c.mode, Args: []string{"/bin/true"}, Helper: c.helper,
				Credential: &rootfs.Credential{UID: 65534, GID: 65534}}
			ctx := context.Background()
			launch := func() time.Duration {
				start := time.Now()
				p, err := rootfs.Start(ctx, spec)
				if err != nil {
					b.Fatal(err)
				}
				st, err := p.Wait(ctx)
				if err != nil || !st.Success() {
					b.Fatalf("true: %v %v", st, err)
				}
				return time.Since(start)
			}
			launch() // the seccomp filters are assembled once per process
			var lat, bare []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				// A batch per iteration, so that a single one (the suite's
				// -benchtime 1x) still gives percentiles.
				for range launchBatch {
					lat = append(lat, launch())
					bare = append(bare, bareLaunch(b, busybox))
				}
			}
			p50, bareP50 := percentileMs(lat, 0.50), percentileMs(bare, 0.50)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(percentileMs(lat, 0.99), "p99-ms")
			b.ReportMetric(bareP50, "bare-p50-ms")
			b.ReportMetric(p50/bareP50, "ratio")
		})
	}
}

// launchBatch is the number of launches (and bare launches) per iteration.
const launchBatch = 25

// bareLaunch times the baseline once: clone with new mount and PID
// namespaces and exec of busybox true, waited for, from Go.
func bareLaunch(b *testing.B, busybox string) time.Duration {
	start := time.Now()
	cmd := exec.Command(busybox, "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Unshareflags: syscall.CLONE_NEWNS}
	if err := cmd.Run(); err != nil {
		b.Fatalf("bare launch: %v", err)
	}
	return time.Since(start)
}

func percentileMs(lat []time.Duration, p float64) float64 {
	slices.Sort(lat)
	return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
}

// imageMB is the size of the generated image BenchmarkUnpack unpacks.
const imageMB = 100

// writeImage writes a ~100 MB rootfs-like archive: 800 files of 128 KiB,
// half random bytes, half text, in 40 directories.
func writeImage(b *testing.B, w io.Writer) {
	tw := tar.NewWriter(w)
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 128<<10)
	files := imageMB << 20 / len(buf)
	for d := range 40 {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/lib/d%02d/", d), Typeflag: tar.TypeDir, Mode: 0o755})
	}
	for i := range files {
		rng.Read(buf[:len(buf)/2])
		for j := len(buf) / 2; j < len(buf); j++ {
			buf[j] = "gleaner rootfs "[j%15]
		}
		hdr := &tar.Header{Name: fmt.Sprintf("usr/lib/d%02d/f%04d.so", i%40, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(buf))}
		if err := tw.WriteHeader(hdr); err != nil {
			b.Fatal(err)
		}
		tw.Write(buf)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUnpack measures unpack throughput (MB/s of file content) for a
// 100 MB image, uncompressed and zstd-compressed.
func BenchmarkUnpack(b *testing.B) {
	dir := testenv.TempDirOnDisk(b)
	for _, format := range []string{"tar", "tar.zst"} {
		b.Run(format, func(b *testing.B) {
			archive := filepath.Join(dir, "image."+format)
			f, err := os.Create(archive)
			if err != nil {
				b.Fatal(err)
			}
			if format == "tar.zst" {
				zw, _ := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest))
				writeImage(b, zw)
				zw.Close()
			} else {
				writeImage(b, f)
			}
			f.Close()
			b.SetBytes(imageMB << 20)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				dst := filepath.Join(dir, fmt.Sprintf("out-%s-%d", format, n))
				n++
				if err := rootfs.Unpack(context.Background(), archive, dst); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dst)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkFetchCacheHit measures a Fetch served from the cache.
func BenchmarkFetchCacheHit(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "img.tar")
	body := make([]byte, 1<<20)
	if err := os.WriteFile(src, body, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := rootfs.NewFetcher(filepath.Join(dir, "cache"), rootfs.WithFileRoots(dir))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	sum := digestOf(body)
	if _, err := f.Fetch(ctx, "file://"+src, rootfs.WithSHA256(sum)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		obj, err := f.Fetch(ctx, "file://"+src, rootfs.WithSHA256(sum))
		if err != nil || !obj.Cached {
			b.Fatalf("%+v %v", obj, err)
		}
	}
}
