//go:build linux

package agent

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/rootfs"
)

// taskCredential applies the agent's user policy to a launch: the task runs
// as its User (Marathon's app field) or the agent's TaskUser, and as root
// only when the operator allows root for the framework's role
// (Config.RootRoles). Which principal may ask for which user is the
// master's ACL; this is the machine owner's word, applied whatever the
// master sent. Users are the host's (as Mesos's --switch_user): a name from
// its user database, or "uid[:gid]".
//
// A root task of a role not allowed host root runs, where the kernel has
// user namespaces and the task its own mount namespace (pivot_root mode),
// as root inside a user namespace of its own that maps it to the agent's
// TaskUser: root in its own root file system, that unprivileged user on
// the host. Elsewhere it is refused, with the reason.
func (a *Agent) taskCredential(info api.TaskInfo) (*rootfs.Credential, *rootfs.IDMap, error) {
	name := info.User
	if name == "" {
		name = a.cfg.TaskUser
	}
	cred, err := lookupUser(name)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: task %s: user %q: %w", ErrInvalid, info.TaskID, name, err)
	}
	if cred.UID != 0 || slices.Contains(a.cfg.RootRoles, "*") || slices.Contains(a.cfg.RootRoles, info.Role) {
		return cred, nil, nil
	}
	refusal := fmt.Errorf("%w: task %s: user %q is root, and this agent runs root tasks on the host only for the roles %q (-root-roles), not for role %q",
		ErrInvalid, info.TaskID, name, a.cfg.RootRoles, info.Role)
	if !a.userNamespaces() {
		return nil, nil, fmt.Errorf("%w; nor can it map root to an unprivileged user here (no user namespaces, or chroot mode)", refusal)
	}
	host, err := lookupUser(a.cfg.TaskUser)
	if err != nil || host.UID == 0 {
		return nil, nil, fmt.Errorf("%w; TaskUser %q cannot stand for it (%v)", refusal, a.cfg.TaskUser, err)
	}
	return &rootfs.Credential{}, &rootfs.IDMap{HostUID: host.UID, HostGID: host.GID}, nil
}

// userNamespaces reports whether tasks can be given user namespaces: the
// kernel has them and tasks enter their roots with pivot_root.
func (a *Agent) userNamespaces() bool {
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		return false
	}
	return a.cfg.LaunchMode == rootfs.ModePivotRoot || (a.cfg.LaunchMode == rootfs.ModeAuto && rootfs.PivotRootSupported())
}

// lookupUser resolves "uid[:gid]" or a host user name.
func lookupUser(name string) (*rootfs.Credential, error) {
	if name == "" {
		return nil, fmt.Errorf("empty user")
	}
	uidText, gidText, hasGID := strings.Cut(name, ":")
	if uid, err := strconv.ParseUint(uidText, 10, 32); err == nil {
		gid := uid
		if hasGID {
			if gid, err = strconv.ParseUint(gidText, 10, 32); err != nil {
				return nil, fmt.Errorf("gid %q is not a number", gidText)
			}
		}
		return &rootfs.Credential{UID: uint32(uid), GID: uint32(gid)}, nil
	}
	if hasGID {
		return nil, fmt.Errorf("want a user name or uid[:gid]")
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	return &rootfs.Credential{UID: uint32(uid), GID: uint32(gid)}, nil
}

// taskNetwork maps a launch's network to rootfs's.
func taskNetwork(n string) rootfs.Network {
	if n == "none" {
		return rootfs.NetworkNone
	}
	return rootfs.NetworkHost
}
