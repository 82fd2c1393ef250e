package rootfs

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// source is a parsed object URI.
type source struct {
	uri    string
	scheme string // file, http, https, s3
	path   string // file: local path
	bucket string // s3
	key    string // s3
}

// parseURI accepts file:///abs/path (or a bare absolute path),
// http(s)://host/path and s3://bucket/key.
func parseURI(uri string) (source, error) {
	if strings.HasPrefix(uri, "/") {
		return source{uri: "file://" + uri, scheme: "file", path: filepath.Clean(uri)}, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return source{}, fmt.Errorf("%w: URI %q: %v", ErrInvalid, uri, err)
	}
	s := source{uri: uri, scheme: u.Scheme}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || !strings.HasPrefix(u.Path, "/") {
			return source{}, fmt.Errorf("%w: URI %q: want file:///absolute/path", ErrInvalid, uri)
		}
		s.path = filepath.Clean(u.Path)
	case "http", "https":
		if u.Host == "" {
			return source{}, fmt.Errorf("%w: URI %q: no host", ErrInvalid, uri)
		}
	case "s3":
		s.bucket, s.key = u.Host, strings.TrimPrefix(u.Path, "/")
		if s.bucket == "" || s.key == "" {
			return source{}, fmt.Errorf("%w: URI %q: want s3://bucket/key", ErrInvalid, uri)
		}
	default:
		return source{}, fmt.Errorf("%w: URI %q: scheme %q (want file, http, https or s3)", ErrInvalid, uri, u.Scheme)
	}
	return s, nil
}
