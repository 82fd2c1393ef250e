package rootfs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config locates an S3-protocol server. Empty fields are taken from the
// standard AWS environment variables:
//
//	Endpoint      AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL (default https://s3.amazonaws.com)
//	Region        AWS_REGION, then AWS_DEFAULT_REGION (default us-east-1)
//	AccessKey     AWS_ACCESS_KEY_ID
//	SecretKey     AWS_SECRET_ACCESS_KEY
//	SessionToken  AWS_SESSION_TOKEN
//
// Buckets are addressed path-style (http://endpoint/bucket/key) for any
// endpoint other than AWS, which is what self-hosted servers expect.
type S3Config struct {
	Endpoint     string // URL such as http://127.0.0.1:7070
	Region       string
	AccessKey    string
	SecretKey    string
	SessionToken string
	// MaxRetries bounds retries per request; 0 means 3. Unreachable
	// endpoints fail after these.
	MaxRetries int
}

func (c S3Config) withEnv() S3Config {
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	c.Endpoint = first(c.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), "https://s3.amazonaws.com")
	c.Region = first(c.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
	c.AccessKey = first(c.AccessKey, os.Getenv("AWS_ACCESS_KEY_ID"))
	c.SecretKey = first(c.SecretKey, os.Getenv("AWS_SECRET_ACCESS_KEY"))
	c.SessionToken = first(c.SessionToken, os.Getenv("AWS_SESSION_TOKEN"))
	if c.MaxRetries <= 0 {
		c.MaxRetries = 3
	}
	return c
}

// s3Store builds its client on first use, so a Fetcher that never sees an
// s3:// URI never reads the S3 environment.
//
// Credentials are sent only for the buckets listed with WithS3Buckets: an
// object URI comes from a task, and a task must not read a bucket the
// operator did not lend it just because the agent holds keys for it.
// Other buckets are read anonymously.
type s3Store struct {
	cfg     S3Config
	buckets map[string]bool // buckets the credentials are used for
	once    sync.Once
	client  *minio.Client // with credentials
	anon    *minio.Client // without
	err     error
}

func newS3Store(cfg S3Config, buckets []string) *s3Store {
	s := &s3Store{cfg: cfg, buckets: map[string]bool{}}
	for _, b := range buckets {
		s.buckets[b] = true
	}
	return s
}

// connect returns the client for bucket: the credentialed one only for a
// listed bucket, or for an upload (Push is the operator's own act, never a
// task's).
func (s *s3Store) connect(bucket string, upload bool) (*minio.Client, error) {
	s.once.Do(func() {
		cfg := s.cfg.withEnv()
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			s.err = fmt.Errorf("%w: S3 endpoint %q: want http(s)://host[:port]", ErrInvalid, cfg.Endpoint)
			return
		}
		lookup := minio.BucketLookupPath
		if strings.HasSuffix(u.Host, "amazonaws.com") {
			lookup = minio.BucketLookupAuto
		}
		opts := func(creds *credentials.Credentials) *minio.Options {
			return &minio.Options{Creds: creds, Secure: u.Scheme == "https", Region: cfg.Region,
				BucketLookup: lookup, MaxRetries: cfg.MaxRetries}
		}
		s.client, s.err = minio.New(u.Host, opts(credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)))
		if s.err == nil {
			s.anon, s.err = minio.New(u.Host, opts(credentials.NewStaticV4("", "", "")))
		}
		if s.err != nil {
			s.err = fmt.Errorf("rootfs: S3 endpoint %q: %w", cfg.Endpoint, s.err)
		}
	})
	if s.err != nil {
		return nil, s.err
	}
	if upload || s.buckets[bucket] {
		return s.client, nil
	}
	return s.anon, nil
}

// s3Err maps a minio error to ours, keeping the S3 code in the text.
func s3Err(src source, op string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == minio.NoSuchKey, resp.Code == minio.NoSuchBucket, resp.StatusCode == http.StatusNotFound:
		err = fmt.Errorf("%w (%s)", ErrNotFound, resp.Code)
	case resp.Code != "":
		err = fmt.Errorf("S3 %s: %s", resp.Code, resp.Message)
	}
	return &FetchError{URI: src.uri, Op: op, Err: err}
}

func (s *s3Store) get(ctx context.Context, src source) (io.ReadCloser, int64, error) {
	c, err := s.connect(src.bucket, false)
	if err != nil {
		return nil, 0, &FetchError{URI: src.uri, Op: "fetch", Err: err}
	}
	obj, err := c.GetObject(ctx, src.bucket, src.key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, s3Err(src, "fetch", err)
	}
	// GetObject is lazy; Stat makes the request and surfaces errors here.
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, 0, s3Err(src, "fetch", err)
	}
	return obj, st.Size, nil
}

func (s *s3Store) put(ctx context.Context, dst source, r io.Reader, size int64) error {
	c, err := s.connect(dst.bucket, true)
	if err != nil {
		return &FetchError{URI: dst.uri, Op: "upload", Err: err}
	}
	_, err = c.PutObject(ctx, dst.bucket, dst.key, r, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return s3Err(dst, "upload", err)
	}
	return nil
}
