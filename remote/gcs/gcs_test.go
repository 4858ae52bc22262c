package gcs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"

	"github.com/lodevcs/lode/integration/servers"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/gcs"
	"github.com/lodevcs/lode/remote/remotetest"
)

func emulatorClient(t *testing.T, host string) *storage.Client {
	t.Helper()
	c, err := gcs.NewEmulatorClient(context.Background(), host, remote.HTTPTimeouts{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newBackend(t *testing.T, c *storage.Client, bucket, prefix string) *gcs.Backend {
	t.Helper()
	b, err := gcs.New(c, bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	env := servers.StartGCS(t)
	c := emulatorClient(t, env.GCSHost)
	remotetest.Run(t, func(t *testing.T) remote.Backend {
		return newBackend(t, c, env.GCSBucket, servers.Prefix(t))
	})
}

// TestConformanceRetrying runs the suite through lode's retry decorator,
// as the back end is used.
func TestConformanceRetrying(t *testing.T) {
	env := servers.StartGCS(t)
	c := emulatorClient(t, env.GCSHost)
	remotetest.Run(t, func(t *testing.T) remote.Backend {
		return remote.NewRetrying(newBackend(t, c, env.GCSBucket, servers.Prefix(t)), remote.RetryOptions{})
	})
}

// TestConformanceBucketRoot runs the suite with an empty prefix, each
// subtest in a bucket of its own.
func TestConformanceBucketRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	env := servers.StartGCS(t)
	c := emulatorClient(t, env.GCSHost)
	n := 0
	remotetest.Run(t, func(t *testing.T) remote.Backend {
		n++
		bucket := fmt.Sprintf("lode-root-%02d-%06x", n, time.Now().UnixNano()&0xffffff)
		if err := servers.CreateGCSBucket(context.Background(), env, bucket); err != nil {
			t.Fatal(err)
		}
		return newBackend(t, c, bucket, "")
	})
}

func TestNewClientFromEnvEmulator(t *testing.T) {
	env := servers.StartGCS(t)
	c, err := gcs.NewClientFromEnv(context.Background(), env.Getenv, remote.HTTPTimeouts{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := newBackend(t, c, env.GCSBucket, servers.Prefix(t))
	ctx := context.Background()
	if err := b.Put(ctx, "x", bytes.NewReader([]byte("hello")), 5, remote.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if info, err := b.Stat(ctx, "x"); err != nil || info.Size != 5 {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
}

func TestUnknownBucket(t *testing.T) {
	env := servers.StartGCS(t)
	b := newBackend(t, emulatorClient(t, env.GCSHost), "no-such-bucket-lode", "p")
	ctx := context.Background()
	errs := map[string]error{}
	_, errs["Stat"] = b.Stat(ctx, "x")
	errs["Put"] = b.Put(ctx, "x", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
	_, errs["Get"] = b.Get(ctx, "x", 0, -1, remote.GetOptions{})
	_, errs["GetRange"] = b.Get(ctx, "x", 1, 10, remote.GetOptions{})
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
	b := newBackend(t, emulatorClient(t, addr), "bucket", "")
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
	_, err = b.Get(ctx, "x", 0, -1, remote.GetOptions{})
	if err == nil || remote.IsPermanent(err) {
		t.Fatalf("Get from an unreachable endpoint: %v, want a retryable error", err)
	}
	t.Logf("error: %v", err)
}

// TestStatusTranslation checks the answers fake-gcs-server never gives,
// with a stand-in server that answers every request with one status.
func TestStatusTranslation(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   error
	}{
		{http.StatusUnauthorized, remote.ErrPermission},
		{http.StatusForbidden, remote.ErrPermission},
		{http.StatusInternalServerError, nil},
		{http.StatusServiceUnavailable, nil},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"error":{"code":%d,"message":"stand-in says %d","errors":[{"reason":"x"}]}}`, tc.status, tc.status)
			}))
			defer srv.Close()
			b := newBackend(t, emulatorClient(t, srv.URL), "bucket", "p")
			ctx := context.Background()
			errs := map[string]error{}
			_, errs["Stat"] = b.Stat(ctx, "x")
			_, errs["Get"] = b.Get(ctx, "x", 0, -1, remote.GetOptions{})
			errs["Put"] = b.Put(ctx, "x", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
			errs["List"] = b.List(ctx, "", remote.ListOptions{}, func(remote.Info) error { return nil })
			errs["Delete"] = b.Delete(ctx, "x")
			for op, err := range errs {
				if err == nil {
					t.Errorf("%s succeeded", op)
					continue
				}
				if tc.want == nil {
					if remote.IsPermanent(err) {
						t.Errorf("%s: %v is permanent", op, err)
					}
					continue
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: %v, want %v", op, err, tc.want)
				}
				if !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
					t.Errorf("%s: message %q does not name GOOGLE_APPLICATION_CREDENTIALS", op, err)
				}
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ in, bucket, prefix string }{
		{"gs://b", "b", ""},
		{"gs://b/", "b", ""},
		{"gs://b/p/q/", "b", "p/q"},
	} {
		bucket, prefix, err := gcs.ParseURL(tc.in)
		if err != nil || bucket != tc.bucket || prefix != tc.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v", tc.in, bucket, prefix, err)
		}
	}
	for _, in := range []string{"gs://", "s3://b/p", "b/p", "gs:///p", "gs://localhost:4443/b"} {
		if _, _, err := gcs.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) succeeded", in)
		}
	}
}

// TestParseURLRefusesCredentials checks that userinfo is an error that
// says where credentials go and does not repeat them.
func TestParseURLRefusesCredentials(t *testing.T) {
	for _, in := range []string{
		"gs://KEYID:hunter2@bucket/x",
		"gs://hunter2@bucket",
		"gs://KEYID:hun/ter2@bucket/x", // an unescaped slash in the secret
	} {
		_, _, err := gcs.ParseURL(in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", in)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "ter2") || !strings.Contains(msg, "application default credentials") {
			t.Errorf("ParseURL(%q): %v", in, err)
		}
	}
	// "@" in the prefix is no userinfo.
	if b, p, err := gcs.ParseURL("gs://bucket/team@example.com/x"); err != nil || b != "bucket" || p != "team@example.com/x" {
		t.Errorf("ParseURL with @ in the prefix = %q, %q, %v", b, p, err)
	}
}

// TestHostile runs the hostile servers' checks through the client
// NewEmulatorClient makes. (No emulator is needed: the suite only reads
// objects from the servers that answer, which serve a media download as
// GCS would.)
func TestHostile(t *testing.T) {
	remotetest.RunHostile(t, func(t *testing.T, url string, timeouts remote.HTTPTimeouts) remote.Backend {
		c, err := gcs.NewEmulatorClient(context.Background(), url, timeouts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return newBackend(t, c, "bucket", "prefix")
	}, remotetest.HostileOptions{ResumesBodies: true})
}
