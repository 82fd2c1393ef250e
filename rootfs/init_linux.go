package rootfs

import (
	"os"

	"github.com/gleaner/gleaner/rootfs/internal/sandbox"
)

// Init turns the process into the launch helper when Start re-executed it,
// and returns immediately otherwise. Programs that call Start without a
// helper program (Spec.Helper, HelperName next to the program) must call
// Init first thing in main (tests: in TestMain):
//
//	func main() {
//		rootfs.Init()
//		...
//	}
//
// Go cannot run code between fork and exec, so the helper is a program of
// its own: the small rootfs/cmd/gleaner-init, or, failing that, the running
// program re-executed (as runc does), which costs its whole start-up. The
// helper blocks on a pipe until the parent has placed it in its cgroups,
// enters the root, drops privileges and execs the command (or runs it as
// its init). It never returns.
func Init() {
	if os.Getenv(sandbox.Env) == "" {
		return
	}
	sandbox.Main()
}
