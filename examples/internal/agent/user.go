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

// taskUser is who a task runs as: the user the policy chose, root inside a
// user namespace mapped to an unprivileged host user, and the ID of
// Config.TaskUIDs the task holds (0 for none). It is kept in the task's
// record, so that a restarted agent runs the task's health checks as the
// same user and keeps its ID taken.
type taskUser struct {
	Cred    *rootfs.Credential `json:"cred,omitempty"`
	UserNS  *rootfs.IDMap      `json:"userns,omitempty"`
	PoolUID uint32             `json:"pool_uid,omitempty"`
}

// taskCredential applies the agent's user policy to a launch: the task runs
// as its User (Marathon's app field), else as an ID of its own from pool
// (Config.TaskUIDs) when there is one, else as the agent's TaskUser; and as
// root only when the operator allows root for the framework's role
// (Config.RootRoles). Which principal may ask for which user is the
// master's ACL; this is the machine owner's word, applied whatever the
// master sent. Users are the host's (as Mesos's --switch_user): a name from
// its user database, or "uid[:gid]".
//
// A root task of a role not allowed host root runs, where the kernel has
// user namespaces and the task its own mount namespace (pivot_root mode),
// as root inside a user namespace of its own that maps it to an ID of its
// own from pool, or else to the agent's TaskUser: root in its own root file
// system, that unprivileged user on the host. Elsewhere it is refused, with
// the reason. An ID taken from pool is the caller's to give back
// (uidPool.release) when the task is gone, or at once if it never runs.
func (a *Agent) taskCredential(info api.TaskInfo, pool *uidPool) (taskUser, error) {
	own := func() (*rootfs.Credential, uint32, error) {
		if pool == nil {
			return nil, 0, nil
		}
		uid, err := pool.take(info.TaskID)
		if err != nil {
			return nil, 0, fmt.Errorf("task %s: %w", info.TaskID, err)
		}
		return &rootfs.Credential{UID: uid, GID: uid}, uid, nil
	}
	name := info.User
	if name == "" {
		cred, uid, err := own()
		if err != nil || cred != nil {
			return taskUser{Cred: cred, PoolUID: uid}, err
		}
		name = a.cfg.TaskUser
	}
	cred, err := lookupUser(name)
	if err != nil {
		return taskUser{}, fmt.Errorf("%w: task %s: user %q: %w", ErrInvalid, info.TaskID, name, err)
	}
	if cred.UID != 0 || slices.Contains(a.cfg.RootRoles, "*") || slices.Contains(a.cfg.RootRoles, info.Role) {
		return taskUser{Cred: cred}, nil
	}
	refusal := fmt.Errorf("%w: task %s: user %q is root, and this agent runs root tasks on the host only for the roles %q (-root-roles), not for role %q",
		ErrInvalid, info.TaskID, name, a.cfg.RootRoles, info.Role)
	if !a.userNamespaces() {
		return taskUser{}, fmt.Errorf("%w; nor can it map root to an unprivileged user here (no user namespaces, or chroot mode)", refusal)
	}
	host, uid, err := own()
	if err != nil {
		return taskUser{}, err
	}
	if host == nil {
		host, err = lookupUser(a.cfg.TaskUser)
		if err != nil || host.UID == 0 {
			return taskUser{}, fmt.Errorf("%w; TaskUser %q cannot stand for it (%v)", refusal, a.cfg.TaskUser, err)
		}
	}
	return taskUser{Cred: &rootfs.Credential{}, UserNS: &rootfs.IDMap{HostUID: host.UID, HostGID: host.GID}, PoolUID: uid}, nil
}

// poolOf is the pool of r, nil for the zero range.
func poolOf(r UIDRange) *uidPool {
	if r.IsZero() {
		return nil
	}
	return newUIDPool(r)
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
