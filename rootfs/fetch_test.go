package rootfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// objectServer serves fixed objects and counts the GETs each one gets.
type objectServer struct {
	*httptest.Server
	objects map[string][]byte
	gets    sync.Map // path -> *atomic.Int64
	gate    chan struct{}
}

func newObjectServer(t *testing.T, objects map[string][]byte) *objectServer {
	s := &objectServer{objects: objects}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := s.gets.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		body, ok := s.objects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if s.gate != nil {
			select {
			case <-s.gate:
			case <-r.Context().Done():
				return
			}
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *objectServer) count(path string) int64 {
	n, ok := s.gets.Load(path)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func newFetcher(t *testing.T, opts ...rootfs.FetcherOption) *rootfs.Fetcher {
	t.Helper()
	f, err := rootfs.NewFetcher(filepath.Join(t.TempDir(), "cache"), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestFetchHTTPVerifiesReportsProgressAndCaches(t *testing.T) {
	body := bytes.Repeat([]byte("gleaner "), 100_000)
	srv := newObjectServer(t, map[string][]byte{"/img.tar": body})
	f := newFetcher(t)
	ctx := context.Background()

	var last, calls atomic.Int64
	var total atomic.Int64
	obj, err := f.Fetch(ctx, srv.URL+"/img.tar", rootfs.WithSHA256(digestOf(body)), rootfs.WithProgress(func(done, tot int64) {
		calls.Add(1)
		last.Store(done)
		total.Store(tot)
	}))
	require.NoError(t, err)
	assert.False(t, obj.Cached)
	assert.Equal(t, int64(len(body)), obj.Size)
	assert.Equal(t, int64(len(body)), last.Load(), "progress ends at the size")
	assert.Equal(t, int64(len(body)), total.Load(), "progress knows the total")
	assert.Greater(t, calls.Load(), int64(1))
	got, err := os.ReadFile(obj.Path)
	require.NoError(t, err)
	assert.Equal(t, body, got)
	assert.Equal(t, digestOf(body), filepath.Base(obj.Path), "content-addressed")

	again, err := f.Fetch(ctx, srv.URL+"/img.tar", rootfs.WithSHA256(digestOf(body)))
	require.NoError(t, err)
	assert.True(t, again.Cached)
	assert.Equal(t, obj.Path, again.Path)
	assert.Equal(t, int64(1), srv.count("/img.tar"), "a cache hit makes no request")
}

func TestFetchChecksumMismatchNamesTheObjectAndCachesNothing(t *testing.T) {
	srv := newObjectServer(t, map[string][]byte{"/img.tar": []byte("tampered")})
	cacheDir := filepath.Join(t.TempDir(), "cache")
	f, err := rootfs.NewFetcher(cacheDir)
	require.NoError(t, err)
	defer f.Close()
	want := digestOf([]byte("original"))
	_, err = f.Fetch(context.Background(), srv.URL+"/img.tar", rootfs.WithSHA256(want))
	require.ErrorIs(t, err, rootfs.ErrChecksum)
	var ce *rootfs.ChecksumError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, srv.URL+"/img.tar", ce.Object)
	assert.Equal(t, want, ce.Want)
	assert.Equal(t, digestOf([]byte("tampered")), ce.Got)
	assert.Contains(t, err.Error(), "/img.tar")
	for _, sub := range []string{"sha256", "tmp"} {
		entries, _ := os.ReadDir(filepath.Join(cacheDir, sub))
		assert.Empty(t, entries, "nothing left in %s", sub)
	}
}

func TestFetchConcurrentFetchesShareOneDownload(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1<<20)
	srv := newObjectServer(t, map[string][]byte{"/img.tar": body})
	srv.gate = make(chan struct{})
	f := newFetcher(t)
	const n = 8
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obj, err := f.Fetch(context.Background(), srv.URL+"/img.tar", rootfs.WithSHA256(digestOf(body)))
			paths[i], errs[i] = obj.Path, err
		}()
	}
	// Let every fetcher join before the server answers.
	testenv.Eventually(t, 30*time.Second, func() bool { return srv.count("/img.tar") == 1 && rootfs.Waiting(f) == n }, "%d fetches joined to one download", n)
	close(srv.gate)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, paths[0], paths[i])
	}
	assert.Equal(t, int64(1), srv.count("/img.tar"), "one download for all")
}

func TestFetchCancelledByLastWaiterStopsTheDownload(t *testing.T) {
	srv := newObjectServer(t, map[string][]byte{"/slow": []byte("never sent")})
	srv.gate = make(chan struct{}) // never opened
	f := newFetcher(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := f.Fetch(ctx, srv.URL+"/slow", rootfs.WithSHA256(digestOf([]byte("never sent"))))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "/slow")
	done := make(chan struct{})
	go func() { f.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: the abandoned download is still running")
	}
}

func TestFetchLRUEvictionKeepsTheCacheBounded(t *testing.T) {
	objs := map[string][]byte{}
	for _, name := range []string{"/a", "/b", "/c"} {
		objs[name] = bytes.Repeat([]byte(name[1:]), 1000)
	}
	srv := newObjectServer(t, objs)
	dir := filepath.Join(t.TempDir(), "cache")
	f, err := rootfs.NewFetcher(dir, rootfs.WithCacheSize(2500))
	require.NoError(t, err)
	ctx := context.Background()
	get := func(name string) rootfs.Object {
		obj, err := f.Fetch(ctx, srv.URL+name, rootfs.WithSHA256(digestOf(objs[name])))
		require.NoError(t, err)
		return obj
	}
	get("/a")
	get("/b")
	assert.True(t, get("/a").Cached, "a is now the most recently used")
	get("/c") // over the bound: b, the least recently used, goes
	assert.NoFileExists(t, filepath.Join(dir, "sha256", digestOf(objs["/b"])))
	assert.True(t, get("/a").Cached)
	assert.True(t, get("/c").Cached)
	require.NoError(t, f.Close())

	// A new Fetcher on the same directory finds the objects again.
	f2, err := rootfs.NewFetcher(dir, rootfs.WithCacheSize(2500))
	require.NoError(t, err)
	defer f2.Close()
	obj, err := f2.Fetch(ctx, srv.URL+"/a", rootfs.WithSHA256(digestOf(objs["/a"])))
	require.NoError(t, err)
	assert.True(t, obj.Cached)
	assert.Equal(t, int64(2), srv.count("/b")+srv.count("/a"), "a once, b once")
}

func TestFetchFileURIAndErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "img.tar")
	require.NoError(t, os.WriteFile(src, []byte("local image"), 0o644))
	srv := newObjectServer(t, nil)
	f := newFetcher(t, rootfs.WithFileRoots(dir))
	ctx := context.Background()

	obj, err := f.Fetch(ctx, "file://"+src)
	require.NoError(t, err)
	assert.Equal(t, digestOf([]byte("local image")), obj.SHA256)

	for _, c := range []struct {
		name, uri string
		opts      []rootfs.FetchOption
		want      error
	}{
		{"missing file is not found", "file://" + dir + "/absent.tar", nil, rootfs.ErrNotFound},
		{"HTTP 404 is not found", srv.URL + "/absent.tar", []rootfs.FetchOption{rootfs.WithSHA256(digestOf(nil))}, rootfs.ErrNotFound},
		{"unknown scheme is invalid", "ftp://host/x", nil, rootfs.ErrInvalid},
		{"s3 URI without key is invalid", "s3://bucket", nil, rootfs.ErrInvalid},
		{"relative file URI is invalid", "file:relative", nil, rootfs.ErrInvalid},
		{"malformed digest is invalid", "file://" + src, []rootfs.FetchOption{rootfs.WithSHA256("abc")}, rootfs.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.Fetch(ctx, c.uri, c.opts...)
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.uri)
		})
	}
}

func TestFetchUnreachableS3EndpointNamesTheObject(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	l, err := (&net0{}).listen()
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	f := newFetcher(t, rootfs.WithS3(rootfs.S3Config{Endpoint: "http://" + addr, AccessKey: "k", SecretKey: "s", MaxRetries: 1}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = f.Fetch(ctx, "s3://images/base/busybox-1.tar.zst")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s3://images/base/busybox-1.tar.zst")
	assert.Contains(t, err.Error(), "connection refused")
	assert.NoError(t, ctx.Err(), "failed fast, not by timeout")
}

func TestFetchPolicy(t *testing.T) {
	allowed, other := t.TempDir(), t.TempDir()
	secret := filepath.Join(other, "shadow")
	require.NoError(t, os.WriteFile(secret, []byte("root:secret"), 0o600))
	require.NoError(t, os.Symlink(secret, filepath.Join(allowed, "link")))
	require.NoError(t, os.WriteFile(filepath.Join(allowed, "big"), make([]byte, 4096), 0o644))
	body := []byte("an object of 33 bytes over http.")
	srv := newObjectServer(t, map[string][]byte{"/obj": body})
	ctx := context.Background()

	t.Run("file:// is refused without allowed directories", func(t *testing.T) {
		_, err := newFetcher(t).Fetch(ctx, "file://"+secret)
		require.ErrorIs(t, err, rootfs.ErrDenied)
		assert.Contains(t, err.Error(), secret)
	})
	f := newFetcher(t, rootfs.WithFileRoots(allowed))
	for _, c := range []struct {
		name, uri string
		opts      []rootfs.FetchOption
		want      error
	}{
		{"file:// outside the allowed directories is refused", "file://" + secret, nil, rootfs.ErrDenied},
		{"a bare path outside them is refused", secret, nil, rootfs.ErrDenied},
		{"dot-dot out of an allowed directory is refused", "file://" + allowed + "/../" + filepath.Base(other) + "/shadow", nil, rootfs.ErrDenied},
		{"plain http without a digest is refused", srv.URL + "/obj", nil, rootfs.ErrDenied},
		{"an object over the size limit is refused", "file://" + allowed + "/big", []rootfs.FetchOption{rootfs.WithMaxObjectBytes(1000)}, rootfs.ErrTooLarge},
		{"an http object over the size limit is refused", srv.URL + "/obj", []rootfs.FetchOption{rootfs.WithSHA256(digestOf(body)), rootfs.WithMaxObjectBytes(10)}, rootfs.ErrTooLarge},
		{"a negative size limit is invalid", srv.URL + "/obj", []rootfs.FetchOption{rootfs.WithSHA256(digestOf(body)), rootfs.WithMaxObjectBytes(-1)}, rootfs.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.Fetch(ctx, c.uri, c.opts...)
			require.ErrorIs(t, err, c.want)
		})
	}
	t.Run("a link in an allowed directory does not lead out of it", func(t *testing.T) {
		_, err := f.Fetch(ctx, "file://"+allowed+"/link")
		require.Error(t, err)
		assert.NotErrorIs(t, err, rootfs.ErrInvalid)
	})
	t.Run("within the limits the object is fetched", func(t *testing.T) {
		obj, err := f.Fetch(ctx, srv.URL+"/obj", rootfs.WithSHA256(digestOf(body)), rootfs.WithMaxObjectBytes(int64(len(body))))
		require.NoError(t, err)
		assert.Equal(t, int64(len(body)), obj.Size)
	})
}

func TestNewFetcherRefusesBadOptions(t *testing.T) {
	for _, tt := range []struct {
		opt  rootfs.FetcherOption
		want string
	}{
		{rootfs.WithCacheSize(0), "WithCacheSize(0)"},
		{rootfs.WithCacheSize(-1), "WithCacheSize(-1)"},
		{rootfs.WithHTTPClient(nil), "WithHTTPClient(nil)"},
	} {
		_, err := rootfs.NewFetcher(t.TempDir(), tt.opt)
		require.ErrorIs(t, err, rootfs.ErrInvalid)
		assert.Contains(t, err.Error(), tt.want)
	}
}

func TestNewFetcherRefusesAnEmptyCacheDir(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := rootfs.NewFetcher("")
	require.ErrorIs(t, err, rootfs.ErrInvalid)
	assert.Contains(t, err.Error(), `cache dir ""`)
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is created in the working directory")
}

func TestFetchHTTPSTrustsTheClientGiven(t *testing.T) {
	body := []byte("behind TLS")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	t.Cleanup(srv.Close)
	_, err := newFetcher(t).Fetch(context.Background(), srv.URL+"/img.tar")
	require.Error(t, err, "the default client does not trust the test CA")
	obj, err := newFetcher(t, rootfs.WithHTTPClient(srv.Client())).Fetch(context.Background(), srv.URL+"/img.tar")
	require.NoError(t, err)
	assert.Equal(t, digestOf(body), obj.SHA256)
}
