//go:build linux

package agent

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/rootfs"
)

// fetchArtifacts puts a task's fetch URIs (Marathon's "fetch") into dir, the
// task's working directory: the top of its root for an isolated task, its
// sandbox for a plain one. Every object goes through the agent's cache
// (rootfs.Fetcher caches by content, so FetchURI.Cache changes nothing).
// An archive with Extract set is unpacked there; anything else is copied
// under DestPath or the URI's last path element.
//
// dir already holds the task's image, which is untrusted: every write goes
// through an os.Root on dir, so a link in the image ("evil -> /etc") can
// never steer a fetched file onto the host.
//
// Fetched bytes count against the task's disk: budget is what is left of
// it, and fetchArtifacts returns what is left after the fetches (an
// extracted archive counts with its unpacked size).
func fetchArtifacts(ctx context.Context, f *rootfs.Fetcher, uris []api.FetchURI, dir string, budget int64) (int64, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return budget, err
	}
	defer root.Close()
	for i, u := range uris {
		name := u.DestPath
		if name == "" {
			parsed, err := url.Parse(u.URI)
			if err != nil {
				return budget, fmt.Errorf("fetch[%d] uri %q: %w", i, u.URI, err)
			}
			name = path.Base(parsed.Path)
		}
		if !filepath.IsLocal(name) {
			return budget, fmt.Errorf("fetch[%d] dest_path %q: not a relative path inside the sandbox", i, name)
		}
		if budget <= 0 {
			return budget, fmt.Errorf("fetch[%d] %s: %w: the task's disk is used up (fetched bytes count against it)", i, u.URI, rootfs.ErrTooLarge)
		}
		obj, err := f.Fetch(ctx, u.URI, rootfs.WithMaxObjectBytes(budget))
		if err != nil {
			return budget, fmt.Errorf("fetch[%d]: %w (limit: what is left of the task's disk)", i, err)
		}
		if u.Extract && isArchive(name) {
			if err := rootfs.UnpackInto(ctx, obj.Path, root, rootfs.WithMaxBytes(budget)); err != nil {
				return budget, fmt.Errorf("fetch[%d] %s: %w", i, u.URI, err)
			}
			budget -= obj.Size // at least; the disk watcher sees the rest
			continue
		}
		mode := os.FileMode(0o644)
		if u.Executable {
			mode = 0o755
		}
		if err := copyInto(root, obj.Path, name, mode); err != nil {
			return budget, fmt.Errorf("fetch[%d] %s: %w", i, u.URI, err)
		}
		budget -= obj.Size
	}
	return budget, nil
}

func isArchive(name string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// copyInto copies the host file src to name below root, creating its
// parent directories there. An existing name is refused rather than
// replaced: the image put it there.
func copyInto(root *os.Root, src, name string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode); err != nil { // undo the umask
		out.Close()
		return err
	}
	return out.Close()
}
