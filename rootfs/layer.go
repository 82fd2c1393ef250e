package rootfs

import "fmt"

// LayerMode says how Layer materialises a task root.
type LayerMode int

const (
	// LayerAuto uses overlayfs when it can be mounted and copies otherwise.
	LayerAuto LayerMode = iota
	// LayerOverlay mounts overlayfs: the bundle and the base are read-only
	// lower layers, the task writes to an upper directory of its own.
	LayerOverlay
	// LayerCopy copies the base, then the bundle, into the task root.
	LayerCopy
)

func (m LayerMode) String() string {
	switch m {
	case LayerAuto:
		return "auto"
	case LayerOverlay:
		return "overlay"
	case LayerCopy:
		return "copy"
	}
	return fmt.Sprintf("LayerMode(%d)", int(m))
}

// TaskRoot is a materialised task root filesystem.
type TaskRoot struct {
	Path string    // the root directory to launch in
	Mode LayerMode // LayerOverlay or LayerCopy: what was actually used
	dir  string    // owns Path and, for overlay, upper and work
}

// Dir returns the directory that holds the task root and its bookkeeping;
// Remove deletes it.
func (r *TaskRoot) Dir() string { return r.dir }
