//go:build linux

package agent

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// termIsNoOp reports whether SIGTERM cannot end process pid: it is the init
// of a PID namespace (its innermost NSpid is 1, as a task entered with
// pivot_root is) and catches no SIGTERM. The kernel drops a signal sent to a
// namespace's init that has no handler for it, so waiting out a kill grace
// for such a task only delays the SIGKILL that must follow. It reports false
// when the status cannot be read, so the grace is kept.
func termIsNoOp(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	return err == nil && initIgnoringTerm(b)
}

// initIgnoringTerm reads the NSpid and SigCgt lines of a /proc/<pid>/status
// file. (procfs's ProcStatus has NSpids but not SigCgt.)
func initIgnoringTerm(status []byte) bool {
	isInit, sawCaught, catchesTerm := false, false, false
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		switch key {
		case "NSpid":
			isInit = len(fields) > 1 && fields[len(fields)-1] == "1"
		case "SigCgt":
			if len(fields) != 1 {
				return false
			}
			mask, err := strconv.ParseUint(fields[0], 16, 64)
			if err != nil {
				return false
			}
			sawCaught, catchesTerm = true, mask&(1<<(15-1)) != 0 // SIGTERM is 15
		}
	}
	return sc.Err() == nil && isInit && sawCaught && !catchesTerm
}
