package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultCacheSize bounds a Fetcher's cache when WithCacheSize is not given.
const DefaultCacheSize = 10 << 30

// Fetcher downloads objects named by file://, http(s):// and s3:// URIs into
// a content-addressed cache. It is safe for concurrent use; concurrent
// fetches of the same object share one download. Close stops downloads in
// flight.
type Fetcher struct {
	cache     *cache
	http      *http.Client
	s3        *s3Store
	log       *slog.Logger
	fileRoots []string

	ctx    context.Context // parent of every download
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	flights map[string]*flight
	closed  bool
}

// A FetcherOption configures NewFetcher.
type FetcherOption func(*fetcherConfig)

type fetcherConfig struct {
	cacheSize int64
	http      *http.Client
	s3        S3Config
	s3Buckets []string
	fileRoots []string
	logger    *slog.Logger
}

// WithCacheSize bounds the cache to n bytes (default DefaultCacheSize);
// least recently used objects are evicted first. An object larger than n
// is still fetched and returned.
func WithCacheSize(n int64) FetcherOption { return func(c *fetcherConfig) { c.cacheSize = n } }

// WithHTTPClient sets the client used for http:// and https:// URIs
// (default: one with DialTimeout, HeaderTimeout and the environment's
// proxy), for example one that trusts a private CA.
func WithHTTPClient(cl *http.Client) FetcherOption { return func(c *fetcherConfig) { c.http = cl } }

// WithS3 sets the S3 endpoint, region and credentials. Fields left empty
// come from the standard AWS environment variables (see S3Config).
func WithS3(cfg S3Config) FetcherOption { return func(c *fetcherConfig) { c.s3 = cfg } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) FetcherOption {
	return func(c *fetcherConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithFileRoots allows file:// URIs (and bare absolute paths) naming files
// below the given directories. Without it every file:// URI is refused
// (ErrDenied): an object URI usually comes from a task, and a task must not
// read the host's files ("file:///etc/shadow"). A file is opened through an
// os.Root on the directory that holds it, so no link below that directory
// leads out of it.
func WithFileRoots(dirs ...string) FetcherOption {
	return func(c *fetcherConfig) {
		for _, d := range dirs {
			c.fileRoots = append(c.fileRoots, filepath.Clean(d))
		}
	}
}

// WithS3Buckets names the buckets the S3 credentials (WithS3 or the AWS
// environment) are sent to; objects in other buckets are fetched
// anonymously. Without it no fetch uses the credentials. Push always does.
func WithS3Buckets(buckets ...string) FetcherOption {
	return func(c *fetcherConfig) { c.s3Buckets = append(c.s3Buckets, buckets...) }
}

// Network timeouts of the default HTTP client and of every download: a
// server that stalls must not hold a task's launch forever.
const (
	DialTimeout   = 10 * time.Second
	HeaderTimeout = 30 * time.Second
	// IdleTimeout ends a download that received nothing for that long.
	IdleTimeout = 60 * time.Second
)

func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: DialTimeout}).DialContext,
		TLSHandshakeTimeout:   DialTimeout,
		ResponseHeaderTimeout: HeaderTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}}
}

// NewFetcher returns a Fetcher caching under dir (created if missing). An
// empty dir, or a bad option value, gives an error wrapping ErrInvalid that
// names it.
func NewFetcher(dir string, opts ...FetcherOption) (*Fetcher, error) {
	cfg := fetcherConfig{
		cacheSize: DefaultCacheSize,
		http:      defaultHTTPClient(),
		logger:    slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case dir == "":
		// Else the cache would land in whatever the working directory is.
		return nil, fmt.Errorf("%w: cache dir \"\": want a directory", ErrInvalid)
	case cfg.cacheSize <= 0:
		return nil, fmt.Errorf("%w: WithCacheSize(%d): must be positive", ErrInvalid, cfg.cacheSize)
	case cfg.http == nil:
		return nil, fmt.Errorf("%w: WithHTTPClient(nil): a client is required", ErrInvalid)
	}
	c, err := openCache(dir, cfg.cacheSize)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fetcher{
		cache:     c,
		http:      cfg.http,
		s3:        newS3Store(cfg.s3, cfg.s3Buckets),
		log:       cfg.logger,
		fileRoots: cfg.fileRoots,
		ctx:       ctx,
		cancel:    cancel,
		flights:   map[string]*flight{},
	}
	c.mu.Lock()
	c.evict("")
	c.mu.Unlock()
	return f, nil
}

// Close cancels downloads in flight and waits for them to stop.
func (f *Fetcher) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
	return nil
}

// Object is a fetched object in the cache.
type Object struct {
	URI string
	// Path is the file in the cache. Read it, never modify it. It stays
	// until evicted to make room for newer objects, so unpack or open it
	// promptly (an open file survives eviction).
	Path   string
	SHA256 string // hex
	Size   int64
	Cached bool // served from the cache without downloading
}

// Progress receives bytes done and the total (-1 when the server does not
// say). It is called from the downloading goroutine, and no longer once
// the Fetch it was given to has returned.
type Progress func(done, total int64)

// A FetchOption configures one Fetch.
type FetchOption func(*fetchConfig)

type fetchConfig struct {
	sha256   string
	progress Progress
	maxBytes int64
}

// WithMaxObjectBytes refuses an object larger than n bytes (ErrTooLarge),
// checked against the size the server announces and again while
// downloading: a task's artifacts are bounded by its disk.
func WithMaxObjectBytes(n int64) FetchOption { return func(c *fetchConfig) { c.maxBytes = n } }

// WithSHA256 makes Fetch verify the content against the hex digest, and
// serve it from the cache without any network access when present.
func WithSHA256(hex string) FetchOption {
	return func(c *fetchConfig) { c.sha256 = strings.ToLower(hex) }
}

// WithProgress reports download progress to p.
func WithProgress(p Progress) FetchOption { return func(c *fetchConfig) { c.progress = p } }

// Fetch returns the object at uri from the cache, downloading it when
// needed. Without WithSHA256 the object is always downloaded (its content is
// unknown until read) and then stored by its digest.
func (f *Fetcher) Fetch(ctx context.Context, uri string, opts ...FetchOption) (Object, error) {
	var cfg fetchConfig
	for _, o := range opts {
		o(&cfg)
	}
	src, err := parseURI(uri)
	if err != nil {
		return Object{}, err
	}
	if cfg.maxBytes < 0 {
		return Object{}, fmt.Errorf("%w: fetch %s: WithMaxObjectBytes(%d): must not be negative", ErrInvalid, uri, cfg.maxBytes)
	}
	if err := f.allowed(src, cfg); err != nil {
		return Object{}, err
	}
	key := uri
	if cfg.maxBytes > 0 {
		key = fmt.Sprintf("%s max %d", uri, cfg.maxBytes)
	}
	if cfg.sha256 != "" {
		if err := validDigest("fetch "+uri+": WithSHA256", cfg.sha256); err != nil {
			return Object{}, err
		}
		if p, size, ok := f.cache.get(cfg.sha256); ok {
			if cfg.maxBytes > 0 && size > cfg.maxBytes {
				return Object{}, &FetchError{URI: uri, Op: "fetch", Err: fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, cfg.maxBytes)}
			}
			if cfg.progress != nil {
				cfg.progress(size, size)
			}
			return Object{URI: uri, Path: p, SHA256: cfg.sha256, Size: size, Cached: true}, nil
		}
		key = "sha256:" + cfg.sha256
		if cfg.maxBytes > 0 {
			key += fmt.Sprintf(" max %d", cfg.maxBytes)
		}
	}

	fl, err := f.join(key, src, cfg.sha256, cfg.maxBytes)
	if err != nil {
		return Object{}, err
	}
	if cfg.progress != nil {
		// Once Fetch returns, p is not called again, even when it gave up
		// on a download that other callers still wait for.
		defer fl.subscribe(cfg.progress)()
	}
	select {
	case <-fl.done:
		f.leave(fl, false)
		if fl.err != nil {
			return Object{}, fl.err
		}
		return Object{URI: uri, Path: fl.path, SHA256: fl.digest, Size: fl.size}, nil
	case <-ctx.Done():
		f.leave(fl, true)
		return Object{}, &FetchError{URI: uri, Op: "fetch", Err: ctx.Err()}
	}
}

// flight is one download shared by every Fetch of the same object. It is
// cancelled when the last waiter gives up.
type flight struct {
	key     string
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int // guarded by Fetcher.mu

	pmu       sync.Mutex
	listeners []Progress
	// The last report, replayed to a listener that subscribes late: a small
	// download can finish before its Fetch call has subscribed.
	lastDone, lastTotal int64
	reported            bool

	// Set before done is closed.
	path, digest string
	size         int64
	err          error
}

// subscribe adds p to the listeners and returns the function that removes
// it; p is not called once that function has returned.
func (fl *flight) subscribe(p Progress) (unsubscribe func()) {
	fl.pmu.Lock()
	defer fl.pmu.Unlock()
	i := len(fl.listeners)
	fl.listeners = append(fl.listeners, p)
	if fl.reported {
		p(fl.lastDone, fl.lastTotal)
	}
	return func() {
		fl.pmu.Lock()
		defer fl.pmu.Unlock()
		fl.listeners[i] = nil
	}
}

func (fl *flight) report(done, total int64) {
	fl.pmu.Lock()
	defer fl.pmu.Unlock()
	fl.lastDone, fl.lastTotal, fl.reported = done, total, true
	for _, p := range fl.listeners {
		if p != nil {
			p(done, total)
		}
	}
}

func (f *Fetcher) join(key string, src source, want string, maxBytes int64) (*flight, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("rootfs: fetch %s: fetcher closed", src.uri)
	}
	if fl, ok := f.flights[key]; ok {
		fl.waiters++
		return fl, nil
	}
	ctx, cancel := context.WithCancel(f.ctx)
	fl := &flight{key: key, done: make(chan struct{}), cancel: cancel, waiters: 1}
	f.flights[key] = fl
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer cancel()
		fl.path, fl.digest, fl.size, fl.err = f.download(ctx, src, want, maxBytes, fl.report)
		f.mu.Lock()
		if f.flights[key] == fl {
			delete(f.flights, key)
		}
		f.mu.Unlock()
		close(fl.done)
	}()
	return fl, nil
}

func (f *Fetcher) leave(fl *flight, abandon bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.waiters--
	if abandon && fl.waiters == 0 {
		fl.cancel()
		// A later Fetch must not join a cancelled download.
		if f.flights[fl.key] == fl {
			delete(f.flights, fl.key)
		}
	}
}

// download copies src into a temporary file in the cache while hashing it,
// verifies the digest, and moves it into place.
func (f *Fetcher) download(ctx context.Context, src source, want string, maxBytes int64, report Progress) (path, digest string, size int64, err error) {
	// A Fetch that missed the cache just before another flight stored the
	// object starts a flight of its own: serve it from the cache.
	if want != "" {
		if p, n, ok := f.cache.get(want); ok {
			report(n, n)
			return p, want, n, nil
		}
	}
	f.log.Debug("fetching", "uri", src.uri)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	body, total, err := f.open(ctx, src)
	if err != nil {
		return "", "", 0, err
	}
	defer body.Close()
	tooLarge := func(n int64) error {
		return &FetchError{URI: src.uri, Op: "fetch", Err: fmt.Errorf("%w: %d bytes or more, limit %d", ErrTooLarge, n, maxBytes)}
	}
	if maxBytes > 0 && total > maxBytes {
		return "", "", 0, tooLarge(total)
	}
	var in io.Reader = body
	if maxBytes > 0 {
		in = io.LimitReader(body, maxBytes+1)
	}
	idle := time.AfterFunc(IdleTimeout, func() {
		cancel(fmt.Errorf("nothing received for %v", IdleTimeout))
	})
	defer idle.Stop()
	tmp, err := os.CreateTemp(f.cache.tmp(), "fetch-")
	if err != nil {
		return "", "", 0, &FetchError{URI: src.uri, Op: "fetch", Err: err}
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	pw := &progressWriter{total: total, report: report}
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h, pw), idleReader{ctxReader{ctx, in}, idle}, make([]byte, 256<<10))
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			err = cause
		}
		return "", "", 0, &FetchError{URI: src.uri, Op: "fetch", Err: err}
	}
	if maxBytes > 0 && n > maxBytes {
		return "", "", 0, tooLarge(n)
	}
	if total >= 0 && n != total {
		return "", "", 0, &FetchError{URI: src.uri, Op: "fetch", Err: fmt.Errorf("short read: %d of %d bytes", n, total)}
	}
	report(n, n)
	digest = hex.EncodeToString(h.Sum(nil))
	if want != "" && digest != want {
		return "", "", 0, &ChecksumError{Object: src.uri, Want: want, Got: digest}
	}
	if err = tmp.Sync(); err == nil {
		err = tmp.Close()
	}
	if err != nil {
		return "", "", 0, &FetchError{URI: src.uri, Op: "fetch", Err: err}
	}
	path, err = f.cache.put(tmp.Name(), digest, n)
	if err != nil {
		return "", "", 0, err
	}
	f.log.Info("fetched", "uri", src.uri, "sha256", digest, "bytes", n)
	return path, digest, n, nil
}

type progressWriter struct {
	done, total int64
	report      Progress
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	p.report(p.done, p.total)
	return len(b), nil
}

// idleReader restarts the idle timer on every read that returns bytes.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
}

func (r idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(IdleTimeout)
	}
	return n, err
}

// allowed applies the fetch policy: file:// only below the file roots,
// plain http only with a digest to check.
func (f *Fetcher) allowed(src source, cfg fetchConfig) error {
	switch src.scheme {
	case "file":
		if _, _, ok := f.fileRoot(src.path); !ok {
			return &FetchError{URI: src.uri, Op: "fetch", Err: fmt.Errorf("%w: file:// only below the allowed directories %v", ErrDenied, f.fileRoots)}
		}
	case "http":
		if cfg.sha256 == "" {
			return &FetchError{URI: src.uri, Op: "fetch", Err: fmt.Errorf("%w: plain http needs a sha256 to check the content against (or use https)", ErrDenied)}
		}
	}
	return nil
}

// fileRoot returns the allowed directory that holds p, and p relative to it.
func (f *Fetcher) fileRoot(p string) (dir, rel string, ok bool) {
	for _, d := range f.fileRoots {
		if r, err := filepath.Rel(d, p); err == nil && filepath.IsLocal(r) {
			return d, r, true
		}
	}
	return "", "", false
}

// open returns the object's content and its size (-1 if unknown).
func (f *Fetcher) open(ctx context.Context, src source) (io.ReadCloser, int64, error) {
	switch src.scheme {
	case "file":
		dir, rel, ok := f.fileRoot(src.path)
		if !ok {
			return nil, 0, &FetchError{URI: src.uri, Op: "fetch", Err: ErrDenied}
		}
		root, err := os.OpenRoot(dir)
		var fh *os.File
		if err == nil {
			fh, err = openRegular(root, rel)
			root.Close()
		}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = ErrNotFound
			}
			return nil, 0, &FetchError{URI: src.uri, Op: "fetch", Err: err}
		}
		fi, err := fh.Stat()
		if err != nil {
			fh.Close()
			return nil, 0, &FetchError{URI: src.uri, Op: "fetch", Err: err}
		}
		return fh, fi.Size(), nil
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.uri, nil)
		if err != nil {
			return nil, 0, &FetchError{URI: src.uri, Op: "fetch", Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
		}
		resp, err := f.http.Do(req)
		if err != nil {
			return nil, 0, &FetchError{URI: src.uri, Op: "fetch", Err: err}
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			err := fmt.Errorf("HTTP status %s", resp.Status)
			if resp.StatusCode == http.StatusNotFound {
				err = fmt.Errorf("%w (%s)", ErrNotFound, resp.Status)
			}
			return nil, 0, &FetchError{URI: src.uri, Op: "fetch", Err: err}
		}
		return resp.Body, resp.ContentLength, nil
	case "s3":
		return f.s3.get(ctx, src)
	}
	return nil, 0, fmt.Errorf("%w: fetch %s: scheme %q", ErrInvalid, src.uri, src.scheme)
}
