//go:build linux

package monitor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/blockdevice"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The host parsers are this package's own (see Host for why). These tests
// hold them to procfs, field by field, on every fixture snapshot and on a
// copy of the live host's files.

func parityRoots(t *testing.T) map[string]string {
	roots := map[string]string{}
	for _, c := range []string{"host", "counter-wrap", "cpu-unplug", "no-psi"} {
		for _, snap := range []string{"1", "2"} {
			roots[c+"/"+snap] = filepath.Join("testdata", c, snap, "proc")
		}
	}
	// Live files change while read; copy each once so both parsers see
	// the same bytes.
	live := filepath.Join(t.TempDir(), "proc")
	for _, f := range []string{"stat", "meminfo", "loadavg", "net/dev", "diskstats", "pressure/cpu", "pressure/memory", "pressure/io"} {
		data, err := os.ReadFile(filepath.Join("/proc", f))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(live, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(live, f), data, 0o644))
	}
	roots["live"] = live
	return roots
}

func TestParsersAgreeWithProcfs(t *testing.T) {
	for name, root := range parityRoots(t) {
		t.Run(name, func(t *testing.T) {
			pfs, err := procfs.NewFS(root)
			require.NoError(t, err)
			var k kfile

			want, err := pfs.Stat()
			require.NoError(t, err)
			require.NoError(t, k.read(filepath.Join(root, "stat")))
			cpus, err := k.parseStat(nil)
			require.NoError(t, err)
			require.Len(t, cpus, len(want.CPU))
			for _, c := range cpus {
				w := want.CPU[int64(c.id)]
				got := [8]uint64{c.user, c.nice, c.system, c.idle, c.iowait, c.irq, c.softirq, c.steal}
				exp := [8]float64{w.User, w.Nice, w.System, w.Idle, w.Iowait, w.IRQ, w.SoftIRQ, w.Steal}
				for i := range got {
					assert.InDelta(t, exp[i], float64(got[i])/userHZ, 1e-9, "cpu%d %s", c.id, cpuModes[i])
				}
			}

			wm, err := pfs.Meminfo()
			require.NoError(t, err)
			require.NoError(t, k.read(filepath.Join(root, "meminfo")))
			m, err := k.parseMeminfo()
			require.NoError(t, err)
			assert.Equal(t, *wm.MemTotalBytes, m.TotalBytes)
			assert.Equal(t, *wm.MemFreeBytes, m.FreeBytes)
			assert.Equal(t, *wm.MemAvailableBytes, m.AvailableBytes)
			assert.Equal(t, *wm.BuffersBytes, m.BuffersBytes)
			assert.Equal(t, *wm.CachedBytes, m.PageCacheBytes)
			assert.Equal(t, *wm.SwapTotalBytes, m.SwapTotalBytes)
			assert.Equal(t, *wm.SwapFreeBytes, m.SwapFreeBytes)

			wl, err := pfs.LoadAvg()
			require.NoError(t, err)
			require.NoError(t, k.read(filepath.Join(root, "loadavg")))
			l, err := k.parseLoadavg()
			require.NoError(t, err)
			assert.Equal(t, LoadAverage{Load1: wl.Load1, Load5: wl.Load5, Load15: wl.Load15}, l)

			for _, r := range psiResources {
				path := filepath.Join(root, "pressure", r)
				if _, err := os.Stat(path); err != nil {
					continue
				}
				wp, err := pfs.PSIStatsForResource(r)
				require.NoError(t, err)
				require.NoError(t, k.read(path))
				p, err := k.parsePSI()
				require.NoError(t, err)
				assert.Equal(t, wp.Some.Avg10, p.Some.Avg10, r)
				assert.Equal(t, wp.Some.Avg60, p.Some.Avg60, r)
				assert.Equal(t, wp.Full != nil, p.HasFull, r)
				if wp.Full != nil {
					assert.Equal(t, wp.Full.Avg10, p.Full.Avg10, r)
					assert.Equal(t, wp.Full.Avg60, p.Full.Avg60, r)
				}
			}

			wn, err := pfs.NetDev()
			require.NoError(t, err)
			require.NoError(t, k.read(filepath.Join(root, "net/dev")))
			nets, err := k.parseNetDev(nil, names{})
			require.NoError(t, err)
			require.Len(t, nets, len(wn))
			for _, n := range nets {
				w := wn[n.name]
				assert.Equal(t, [4]uint64{w.RxBytes, w.RxPackets, w.TxBytes, w.TxPackets},
					[4]uint64{n.rxBytes, n.rxPackets, n.txBytes, n.txPackets}, n.name)
			}

			bfs, err := blockdevice.NewFS(root, "testdata")
			require.NoError(t, err)
			wd, err := bfs.ProcDiskstats()
			require.NoError(t, err)
			require.NoError(t, k.read(filepath.Join(root, "diskstats")))
			disks, err := k.parseDiskstats(nil, func(string) bool { return true }, names{})
			require.NoError(t, err)
			require.Len(t, disks, len(wd))
			for i, d := range disks {
				w := wd[i]
				assert.Equal(t, w.DeviceName, d.name)
				assert.Equal(t, [5]uint64{w.ReadIOs, w.ReadSectors, w.WriteIOs, w.WriteSectors, w.IOsTotalTicks},
					[5]uint64{d.reads, d.readSectors, d.writes, d.writeSectors, d.ioTicksMs}, d.name)
			}
		})
	}
}
