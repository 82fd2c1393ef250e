package rootfs_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

const (
	s3Access = "gleaner-test"
	s3Secret = "gleaner-test-secret"
)

// startS3 runs a real S3 server (versitygw, posix backend) on a loopback
// port with a fresh directory, creates bucket and returns its endpoint.
func startS3(t testing.TB, bucket string) string {
	t.Helper()
	bin := testenv.RequireBinary(t, "versitygw")
	dir := testenv.TempDirOnDisk(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(bin, "--access", s3Access, "--secret", s3Secret, "--port", addr, "--quiet", "posix", dir)
	logf, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("versitygw did not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(s3Access, s3Secret, ""), BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
	require.NoError(t, err)
	require.NoError(t, mc.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}))
	return "http://" + addr
}

func TestS3PushAndFetchAgainstARealServer(t *testing.T) {
	endpoint := startS3(t, "images")
	// Credentials and endpoint from the standard environment variables.
	t.Setenv("AWS_ENDPOINT_URL_S3", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", s3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	t.Setenv("AWS_REGION", "us-east-1")
	f := newFetcher(t, rootfs.WithS3Buckets("images"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	src := filepath.Join(t.TempDir(), "bundle.tar.zst")
	body := make([]byte, 3<<20+17)
	for i := range body {
		body[i] = byte(i * 7)
	}
	require.NoError(t, os.WriteFile(src, body, 0o644))
	require.NoError(t, f.Push(ctx, src, "s3://images/tasks/web-1.tar.zst"))

	var last int64
	obj, err := f.Fetch(ctx, "s3://images/tasks/web-1.tar.zst", rootfs.WithSHA256(digestOf(body)), rootfs.WithProgress(func(done, total int64) {
		assert.Equal(t, int64(len(body)), total)
		last = done
	}))
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), last)
	got, err := os.ReadFile(obj.Path)
	require.NoError(t, err)
	assert.Equal(t, body, got)

	_, err = f.Fetch(ctx, "s3://images/tasks/absent.tar.zst")
	require.ErrorIs(t, err, rootfs.ErrNotFound)
	assert.Contains(t, err.Error(), "s3://images/tasks/absent.tar.zst")

	// A packed bundle and its manifest, pushed and fetched back as an
	// agent would: manifest first, then the bundle it names, verified.
	tree, outDir := t.TempDir(), t.TempDir()
	writeTree(t, tree, map[string]string{"app/run.sh": "echo hi\n"})
	m, err := rootfs.PackBundle(ctx, tree, outDir, rootfs.Manifest{Name: "web", Version: "2", Base: rootfs.Ref{Name: "busybox", Version: "1"}})
	require.NoError(t, err)
	uri, err := f.PushBundle(ctx, filepath.Join(outDir, m.ManifestFile()), "s3://images/tasks/")
	require.NoError(t, err)
	assert.Equal(t, "s3://images/tasks/web-2.manifest.json", uri)
	mobj, err := f.Fetch(ctx, uri)
	require.NoError(t, err)
	got2, err := rootfs.ReadManifest(mobj.Path)
	require.NoError(t, err)
	assert.Equal(t, m, got2)
	bobj, err := f.Fetch(ctx, "s3://images/tasks/"+got2.Bundle, rootfs.WithSHA256(got2.SHA256))
	require.NoError(t, err)
	dst := filepath.Join(t.TempDir(), "bundle")
	require.NoError(t, rootfs.Unpack(ctx, bobj.Path, dst))
	assert.FileExists(t, filepath.Join(dst, "app", "run.sh"))

	_, err = f.Fetch(ctx, "s3://no-such-bucket/x")
	require.ErrorIs(t, err, rootfs.ErrNotFound)
}

func TestS3WrongCredentialsAreRefused(t *testing.T) {
	endpoint := startS3(t, "images")
	f := newFetcher(t, rootfs.WithS3(rootfs.S3Config{Endpoint: endpoint, AccessKey: s3Access, SecretKey: "wrong", MaxRetries: 1}))
	src := filepath.Join(t.TempDir(), "x")
	require.NoError(t, os.WriteFile(src, []byte("x"), 0o644))
	err := f.Push(context.Background(), src, "s3://images/x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s3://images/x")
	assert.Contains(t, err.Error(), "SignatureDoesNotMatch")
}
