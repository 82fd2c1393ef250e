package rootfs

import (
	"container/list"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// cache is a content-addressed store of fetched objects, named by sha256,
// bounded in total size, evicting the least recently used object first.
// Recency is kept in memory and mirrored in file mtimes, so a restarted
// process resumes the same order.
//
// Layout: <dir>/sha256/<hex digest>, <dir>/tmp/ for downloads in flight.
type cache struct {
	dir string
	max int64

	mu      sync.Mutex
	byHash  map[string]*list.Element // of *cacheEntry
	lru     *list.List               // front is most recently used
	size    int64
	evicted int
}

type cacheEntry struct {
	digest string
	size   int64
}

func openCache(dir string, max int64) (*cache, error) {
	c := &cache{dir: dir, max: max, byHash: map[string]*list.Element{}, lru: list.New()}
	for _, d := range []string{c.objects(), c.tmp()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("rootfs: cache %s: %w", dir, err)
		}
	}
	// Leftovers of downloads interrupted by a crash.
	if olds, err := os.ReadDir(c.tmp()); err == nil {
		for _, o := range olds {
			os.Remove(filepath.Join(c.tmp(), o.Name()))
		}
	}
	des, err := os.ReadDir(c.objects())
	if err != nil {
		return nil, fmt.Errorf("rootfs: cache %s: %w", dir, err)
	}
	type found struct {
		cacheEntry
		used time.Time
	}
	var all []found
	for _, de := range des {
		if validDigest("sha256", de.Name()) != nil {
			continue
		}
		fi, err := de.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		all = append(all, found{cacheEntry{de.Name(), fi.Size()}, fi.ModTime()})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.After(all[j].used) })
	for _, f := range all {
		e := f.cacheEntry
		c.byHash[e.digest] = c.lru.PushBack(&e)
		c.size += e.size
	}
	c.mu.Lock()
	c.evict("")
	c.mu.Unlock()
	return c, nil
}

func (c *cache) objects() string           { return filepath.Join(c.dir, "sha256") }
func (c *cache) tmp() string               { return filepath.Join(c.dir, "tmp") }
func (c *cache) path(digest string) string { return filepath.Join(c.objects(), digest) }

// get returns the path of the object with digest and marks it used.
func (c *cache) get(digest string) (string, int64, bool) {
	c.mu.Lock()
	el, ok := c.byHash[digest]
	if !ok {
		c.mu.Unlock()
		return "", 0, false
	}
	c.lru.MoveToFront(el)
	size := el.Value.(*cacheEntry).size
	c.mu.Unlock()
	p := c.path(digest)
	now := time.Now()
	if err := os.Chtimes(p, now, now); errors.Is(err, fs.ErrNotExist) {
		// Removed behind our back: forget it.
		c.mu.Lock()
		if el, ok := c.byHash[digest]; ok {
			c.remove(el)
		}
		c.mu.Unlock()
		return "", 0, false
	}
	return p, size, true
}

// put moves the verified temporary file tmp into the cache under digest and
// evicts older objects beyond the size bound.
func (c *cache) put(tmp, digest string, size int64) (string, error) {
	p := c.path(digest)
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("rootfs: cache: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byHash[digest]; ok {
		c.lru.MoveToFront(el)
		return p, nil
	}
	c.byHash[digest] = c.lru.PushFront(&cacheEntry{digest, size})
	c.size += size
	c.evict(digest)
	return p, nil
}

// evict removes least recently used objects until the cache fits its bound,
// never removing keep (the object just added, which the caller is about to
// use). Called with c.mu held.
func (c *cache) evict(keep string) {
	for c.max > 0 && c.size > c.max {
		el := c.lru.Back()
		if el == nil || el.Value.(*cacheEntry).digest == keep {
			return
		}
		os.Remove(c.path(el.Value.(*cacheEntry).digest))
		c.remove(el)
		c.evicted++
	}
}

func (c *cache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.byHash, e.digest)
	c.size -= e.size
}

// validDigest checks a hex sha256; field names it in the error.
func validDigest(field, d string) error {
	if len(d) != 64 {
		return fmt.Errorf("%w: %s %q: want 64 hex digits", ErrInvalid, field, d)
	}
	if _, err := hex.DecodeString(d); err != nil {
		return fmt.Errorf("%w: %s %q: %v", ErrInvalid, field, d, err)
	}
	return nil
}
