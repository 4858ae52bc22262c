package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lodevcs/lode/integration/servers"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/remotetest"
	"github.com/lodevcs/lode/remote/s3"
)

func newBackend(t *testing.T, cfg s3.Config, bucket, prefix string) *s3.Backend {
	t.Helper()
	b, err := s3.New(cfg, bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testConfig(env servers.Env) s3.Config {
	return s3.StaticConfig(env.S3Endpoint, env.S3Region, env.S3AccessKey, env.S3SecretKey)
}

func TestConformance(t *testing.T) {
	env := servers.StartS3(t)
	cfg := testConfig(env)
	remotetest.Run(t, func(t *testing.T) remote.Backend {
		return newBackend(t, cfg, env.S3Bucket, servers.Prefix(t))
	})
}

// TestConformanceRetrying runs the suite through lode's retry decorator,
// as the back end is used.
func TestConformanceRetrying(t *testing.T) {
	env := servers.StartS3(t)
	cfg := testConfig(env)
	remotetest.Run(t, func(t *testing.T) remote.Backend {
		return remote.NewRetrying(newBackend(t, cfg, env.S3Bucket, servers.Prefix(t)), remote.RetryOptions{})
	})
}

// TestConformanceBucketRoot runs the suite with an empty prefix, each
// subtest in a bucket of its own.
func TestConformanceBucketRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	env := servers.StartS3(t)
	cfg := testConfig(env)
	n := 0
	remotetest.Run(t, func(t *testing.T) remote.Backend {
		n++
		bucket := fmt.Sprintf("lode-root-%02d-%06x", n, time.Now().UnixNano()&0xffffff)
		if err := servers.CreateS3Bucket(context.Background(), env, bucket); err != nil {
			t.Fatal(err)
		}
		return newBackend(t, cfg, bucket, "")
	})
}

func TestConfigFromEnv(t *testing.T) {
	env := servers.StartS3(t)
	// Keep the developer's own AWS files and profile out of the test.
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	getenv := func(k string) string {
		if k == "AWS_REGION" {
			return "" // DefaultRegion applies
		}
		return env.Getenv(k)
	}
	cfg, err := s3.ConfigFromEnv(context.Background(), getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.PathStyle {
		t.Error("PathStyle is off although AWS_ENDPOINT_URL is set")
	}
	if cfg.AWS.Region != s3.DefaultRegion {
		t.Errorf("region %q, want %q", cfg.AWS.Region, s3.DefaultRegion)
	}
	b := newBackend(t, cfg, env.S3Bucket, servers.Prefix(t))
	defer b.Close()
	ctx := context.Background()
	data := remotetest.Data(1, 1000)
	if err := b.Put(ctx, "x/y", bytes.NewReader(data), int64(len(data)), remote.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := b.Get(ctx, "x/y", 10, 20, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[10:30]) {
		t.Fatalf("ranged Get: %d bytes, %v", len(got), err)
	}
}

func TestConfigFromEnvNoEndpoint(t *testing.T) {
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	vars := map[string]string{
		"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
		"AWS_DEFAULT_REGION": "eu-west-3", "AWS_EC2_METADATA_DISABLED": "true",
	}
	cfg, err := s3.ConfigFromEnv(context.Background(), func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PathStyle {
		t.Error("PathStyle is on without a custom endpoint")
	}
	if cfg.AWS.Region != "eu-west-3" {
		t.Errorf("region %q, want eu-west-3 from AWS_DEFAULT_REGION", cfg.AWS.Region)
	}
	creds, err := cfg.AWS.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "a" {
		t.Errorf("credentials %+v, %v; want the static keys", creds, err)
	}
}

func TestWrongCredentials(t *testing.T) {
	env := servers.StartS3(t)
	ctx := context.Background()
	for _, tc := range []struct{ name, key, secret string }{
		{"WrongSecret", env.S3AccessKey, "not-the-secret"},
		{"UnknownKey", "nosuchkey", env.S3SecretKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s3.StaticConfig(env.S3Endpoint, env.S3Region, tc.key, tc.secret)
			b := newBackend(t, cfg, env.S3Bucket, servers.Prefix(t))
			defer b.Close()
			errs := map[string]error{}
			errs["Put"] = b.Put(ctx, "x", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
			_, errs["Get"] = b.Get(ctx, "x", 0, -1, remote.GetOptions{})
			_, errs["Stat"] = b.Stat(ctx, "x")
			errs["List"] = b.List(ctx, "", remote.ListOptions{}, func(remote.Info) error { return nil })
			errs["Delete"] = b.Delete(ctx, "x")
			for op, err := range errs {
				checkPermission(t, op, err)
			}
		})
	}
}

func checkPermission(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, remote.ErrPermission) {
		t.Errorf("%s: %v, want ErrPermission", op, err)
		return
	}
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("%s: message %q does not name %s", op, err, v)
		}
	}
}

type noCredentials struct{}

func (noCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("no credentials in this test")
}

func TestMissingCredentials(t *testing.T) {
	env := servers.StartS3(t)
	cfg := testConfig(env)
	cfg.AWS.Credentials = noCredentials{}
	b := newBackend(t, cfg, env.S3Bucket, "p")
	defer b.Close()
	_, err := b.Stat(context.Background(), "x")
	checkPermission(t, "Stat", err)
}

func TestUnknownBucket(t *testing.T) {
	env := servers.StartS3(t)
	b := newBackend(t, testConfig(env), "no-such-bucket-lode", "p")
	defer b.Close()
	ctx := context.Background()
	errs := map[string]error{}
	_, errs["Stat"] = b.Stat(ctx, "x") // HEAD: a 404 without a code
	errs["Put"] = b.Put(ctx, "x", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
	_, errs["Get"] = b.Get(ctx, "x", 0, -1, remote.GetOptions{})
	errs["List"] = b.List(ctx, "", remote.ListOptions{}, func(remote.Info) error { return nil })
	errs["Delete"] = b.Delete(ctx, "x")
	for op, err := range errs {
		if err == nil || !strings.Contains(err.Error(), `bucket "no-such-bucket-lode" does not exist`) {
			t.Errorf("%s: %v, want an error naming the missing bucket", op, err)
		}
		if !remote.IsPermanent(err) {
			t.Errorf("%s: %v is not permanent", op, err)
		}
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cfg := s3.StaticConfig("http://"+addr, "", "k", "s")
	cfg.AWS.HTTPClient = &http.Client{Timeout: 2 * time.Second}
	b := newBackend(t, cfg, "bucket", "")
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = b.Stat(ctx, "x")
	if err == nil || remote.IsPermanent(err) {
		t.Fatalf("Stat of an unreachable endpoint: %v, want a retryable error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stat of an unreachable endpoint took %v", d)
	}
	err = b.Put(ctx, "x", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
	if err == nil || remote.IsPermanent(err) {
		t.Fatalf("Put to an unreachable endpoint: %v, want a retryable error", err)
	}
	t.Logf("error: %v", err)
}

func TestCredentialsErrorIsPermission(t *testing.T) {
	// The SDK must not swallow a provider's error into something else.
	cfg := s3.StaticConfig("http://127.0.0.1:1", "", "k", "s")
	cfg.AWS.Credentials = credentials.StaticCredentialsProvider{} // empty keys
	b := newBackend(t, cfg, "bucket", "")
	_, err := b.Stat(context.Background(), "x")
	checkPermission(t, "Stat with empty static keys", err)
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ in, bucket, prefix string }{
		{"s3://b", "b", ""},
		{"s3://b/", "b", ""},
		{"s3://b/p/q/", "b", "p/q"},
	} {
		bucket, prefix, err := s3.ParseURL(tc.in)
		if err != nil || bucket != tc.bucket || prefix != tc.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v", tc.in, bucket, prefix, err)
		}
	}
	for _, in := range []string{"s3://", "gs://b/p", "b/p", "s3:///p", "s3://localhost:9000/b"} {
		if _, _, err := s3.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) succeeded", in)
		}
	}
	b, err := s3.New(s3.StaticConfig("http://x", "", "k", "s"), "b", "/p/q/")
	if err != nil || b.Location() != "s3://b/p/q" {
		t.Errorf("Location = %q, %v", b.Location(), err)
	}
}

// TestParseURLRefusesCredentials checks that userinfo is an error that
// says where credentials go and does not repeat them.
func TestParseURLRefusesCredentials(t *testing.T) {
	for _, in := range []string{
		"s3://KEYID:hunter2@bucket/x",
		"s3://hunter2@bucket",
		"s3://KEYID:hun/ter2@bucket/x", // an unescaped slash in the secret
	} {
		_, _, err := s3.ParseURL(in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", in)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "ter2") || !strings.Contains(msg, "AWS_ACCESS_KEY_ID") {
			t.Errorf("ParseURL(%q): %v", in, err)
		}
	}
	// "@" in the prefix is no userinfo.
	if b, p, err := s3.ParseURL("s3://bucket/team@example.com/x"); err != nil || b != "bucket" || p != "team@example.com/x" {
		t.Errorf("ParseURL with @ in the prefix = %q, %q, %v", b, p, err)
	}
}

func TestAnonymous(t *testing.T) {
	env := servers.StartS3(t)
	cfg := testConfig(env)
	cfg.AWS.Credentials = aws.AnonymousCredentials{}
	b := newBackend(t, cfg, env.S3Bucket, "p")
	_, err := b.Stat(context.Background(), "x")
	checkPermission(t, "anonymous Stat", err)
	// The request went out unsigned, and the server refused it.
	if !strings.Contains(err.Error(), "AccessDenied") && !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("anonymous Stat: %v, want the server's refusal", err)
	}
}

// TestHostile runs the hostile servers' checks through the SDK, pointed at
// them as at any S3-compatible endpoint.
func TestHostile(t *testing.T) {
	remotetest.RunHostile(t, func(t *testing.T, url string, timeouts remote.HTTPTimeouts) remote.Backend {
		cfg := s3.StaticConfig(url, "", "key", "secret")
		cfg.AWS.HTTPClient = s3.NewHTTPClient(timeouts)
		return newBackend(t, cfg, "bucket", "prefix")
	}, remotetest.HostileOptions{})
}

// countingSrc counts the bytes read from it.
type countingSrc struct {
	r *bytes.Reader
	n int64
}

func (c *countingSrc) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(b, off)
	c.n += int64(n)
	return n, err
}

// With the payload's SHA-256 given, the body is read once, as it is sent
// (progress follows the upload); a wrong hash is refused by the server.
func TestPutWithSHA256ReadsOnce(t *testing.T) {
	env := servers.StartS3(t)
	b := newBackend(t, testConfig(env), env.S3Bucket, servers.Prefix(t))
	ctx := context.Background()
	data := bytes.Repeat([]byte("lode chunk "), 100000)
	sum := sha256.Sum256(data)
	for _, tc := range []struct {
		name  string
		hash  []byte
		reads int64 // bytes read from the source
		ok    bool
	}{
		{"none", nil, 2 * int64(len(data)), true},
		{"given", sum[:], int64(len(data)), true},
		{"wrong", make([]byte, 32), int64(len(data)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &countingSrc{r: bytes.NewReader(data)}
			var opts remote.PutOptions
			if tc.hash != nil {
				opts.SHA256 = func() ([]byte, error) { return tc.hash, nil }
			}
			err := b.Put(ctx, "obj-"+tc.name, src, int64(len(data)), opts)
			if (err == nil) != tc.ok {
				t.Fatalf("put: %v", err)
			}
			if tc.ok && src.n != tc.reads {
				t.Fatalf("read %d bytes of the source for %d of data; want %d", src.n, len(data), tc.reads)
			}
			if !tc.ok {
				return
			}
			rc, err := b.Get(ctx, "obj-"+tc.name, 0, -1, remote.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, data) {
				t.Fatal("read back differs")
			}
		})
	}
}
