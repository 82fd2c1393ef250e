//go:build linux

package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/gleaner/gleaner/isolate"
)

// businessEnv makes a re-executed program (see Init) the simulated business
// load of one agent instead of itself: its value is the wave's phase.
const businessEnv = "GLEANER_DEMO_BUSINESS_PHASE"

// Init turns the process into a simulated business load when the cluster
// re-executed it for that, and returns at once otherwise. Programs and test
// binaries that start clusters with SimulatedBusiness call it first in main
// (or TestMain), after rootfs.Init.
func Init() {
	v, ok := os.LookupEnv(businessEnv)
	if !ok {
		return
	}
	phase, _ := strconv.ParseFloat(v, 64)
	businessWave(phase)
	os.Exit(0)
}

// Business wave: CPU use rises and falls between businessLow and
// businessHigh cores over businessPeriod, so that the dashboard shows the
// reservation following the business.
const (
	businessPeriod = 90 * time.Second
	businessLow    = 0.05
	businessHigh   = 0.35
	businessSlot   = 100 * time.Millisecond
)

// businessWave spins for the wave's share of every slot, forever.
func businessWave(phase float64) {
	start := time.Now()
	for {
		t := time.Since(start).Seconds()/businessPeriod.Seconds() + phase
		load := businessLow + (businessHigh-businessLow)*(0.5+0.5*math.Sin(2*math.Pi*t))
		busyUntil := time.Now().Add(time.Duration(load * float64(businessSlot)))
		for time.Now().Before(busyUntil) {
		}
		time.Sleep(time.Duration((1 - load) * float64(businessSlot)))
	}
}

// business is one agent's simulated business: a cgroup outside the agent's
// and a process in it running the wave.
type business struct {
	iso *isolate.Isolator
	cmd *exec.Cmd
}

// startBusiness creates the cgroup parent/load and starts the wave in it.
func startBusiness(parent string, phase float64) (*business, error) {
	iso, err := isolate.New(isolate.WithParent(parent))
	if err != nil {
		return nil, fmt.Errorf("business cgroup %s: %w", parent, err)
	}
	b := &business{iso: iso}
	task, err := iso.Create("load", isolate.Limits{CPUs: 1, MemoryBytes: 256 << 20, MemorySwapBytes: -1})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("business cgroup %s: %w", parent, err), b.stop(context.Background()))
	}
	self, err := os.Executable()
	if err != nil {
		return nil, errors.Join(err, b.stop(context.Background()))
	}
	b.cmd = exec.Command(self)
	b.cmd.Env = append(os.Environ(), businessEnv+"="+strconv.FormatFloat(phase, 'f', 3, 64))
	if err := b.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("business load: %w", err), b.stop(context.Background()))
	}
	if err := task.AddPID(b.cmd.Process.Pid); err != nil {
		return nil, errors.Join(fmt.Errorf("business load: %w", err), b.stop(context.Background()))
	}
	return b, nil
}

// stop kills the load and removes its cgroup.
func (b *business) stop(ctx context.Context) error {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	}
	return b.iso.Destroy(ctx)
}
