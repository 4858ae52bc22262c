package httpread_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/httpread"
	"github.com/lodevcs/lode/remote/local"
	"github.com/lodevcs/lode/remote/remotetest"
)

// serve publishes a new local store with http.FileServer, through wrap if
// not nil, and returns the store and the server's URL.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) (*local.Backend, string) {
	t.Helper()
	dir := t.TempDir()
	lb, err := local.New(dir, local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = http.FileServer(http.Dir(dir))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return lb, srv.URL
}

func seeder(lb *local.Backend) func(string, []byte) error {
	return func(name string, data []byte) error {
		return lb.Put(context.Background(), name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
	}
}

func newBackend(t *testing.T, url string) *httpread.Backend {
	t.Helper()
	b, err := httpread.New(url, nil, httpread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	remotetest.RunReadOnly(t, func(t *testing.T) (remote.Backend, func(string, []byte) error) {
		lb, url := serve(t, nil)
		return newBackend(t, url+"/"), seeder(lb)
	})
}

// TestConformanceSubdir serves the store below the server's root, with a
// base URL that has no trailing slash.
func TestConformanceSubdir(t *testing.T) {
	remotetest.RunReadOnly(t, func(t *testing.T) (remote.Backend, func(string, []byte) error) {
		lb, url := serve(t, nil)
		seed := func(name string, data []byte) error { return seeder(lb)("sub/store/"+name, data) }
		return newBackend(t, url+"/sub/store"), seed
	})
}

// TestIgnoresRange uses a server that answers every GET with the whole
// file and 200, as some do: a range from a later offset must fail loudly,
// unless DiscardToOffset is set.
func TestIgnoresRange(t *testing.T) {
	lb, url := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Range")
			h.ServeHTTP(w, r)
		})
	})
	if err := seeder(lb)("x", []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, url)
	got, err := read(b, "x", 0, 4)
	if err != nil || string(got) != "0123" {
		t.Errorf("Get(0, 4) = %q, %v; want 0123", got, err)
	}
	_, err = read(b, "x", 3, 4)
	if !errors.Is(err, errors.ErrUnsupported) || !remote.IsPermanent(err) || !strings.Contains(err.Error(), "ignored the Range header") {
		t.Errorf("Get(3, 4) from a server that ignores ranges: %v", err)
	}

	d, err := httpread.New(url, nil, httpread.Options{DiscardToOffset: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		off, length int64
		want        string
	}{{3, 4, "3456"}, {3, -1, "3456789"}, {8, 10, "89"}, {10, -1, ""}} {
		got, err := read(d, "x", tc.off, tc.length)
		if err != nil || string(got) != tc.want {
			t.Errorf("Get(%d, %d) discarding to the offset: %q, %v; want %q", tc.off, tc.length, got, err, tc.want)
		}
	}
	if _, err := read(d, "x", 11, 1); !errors.Is(err, remote.ErrRange) {
		t.Errorf("Get(11, 1) of 10 bytes discarding to the offset: %v, want ErrRange", err)
	}
}

// TestConformanceNoRanges runs the read half against a server that
// ignores Range headers, with DiscardToOffset.
func TestConformanceNoRanges(t *testing.T) {
	remotetest.RunReadOnly(t, func(t *testing.T) (remote.Backend, func(string, []byte) error) {
		lb, url := serve(t, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("Range")
				h.ServeHTTP(w, r)
			})
		})
		b, err := httpread.New(url, nil, httpread.Options{DiscardToOffset: true})
		if err != nil {
			t.Fatal(err)
		}
		return b, seeder(lb)
	})
}

func read(b remote.Backend, name string, off, length int64) ([]byte, error) {
	rc, err := b.Get(context.Background(), name, off, length, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestReadOnly(t *testing.T) {
	_, url := serve(t, nil)
	b := newBackend(t, url)
	ctx := context.Background()
	if err := b.Put(ctx, "x", strings.NewReader("x"), 1, remote.PutOptions{}); !errors.Is(err, remote.ErrReadOnly) {
		t.Errorf("Put: %v", err)
	}
	if err := b.Delete(ctx, "x"); !errors.Is(err, remote.ErrReadOnly) {
		t.Errorf("Delete: %v", err)
	}
	err := b.List(ctx, "", remote.ListOptions{}, func(remote.Info) error { return nil })
	if !errors.Is(err, remote.ErrReadOnly) || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("List: %v", err)
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   error // nil: a plain error
	}{
		{http.StatusNotFound, remote.ErrNotExist},
		{http.StatusGone, remote.ErrNotExist},
		{http.StatusUnauthorized, remote.ErrPermission},
		{http.StatusForbidden, remote.ErrPermission},
		{http.StatusInternalServerError, nil},
		{http.StatusBadGateway, nil},
		{http.StatusServiceUnavailable, nil},
		{http.StatusTooManyRequests, nil},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
		}))
		b := newBackend(t, srv.URL)
		_, gerr := read(b, "packs/x", 10, 5)
		_, serr := b.Stat(context.Background(), "packs/x")
		for _, err := range []error{gerr, serr} {
			switch {
			case err == nil:
				t.Errorf("status %d: no error", tc.status)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("status %d: %v, want %v", tc.status, err, tc.want)
			case tc.want == nil && remote.IsPermanent(err):
				t.Errorf("status %d: %v is permanent", tc.status, err)
			case tc.want == nil && (!strings.Contains(err.Error(), http.StatusText(tc.status)) || !strings.Contains(err.Error(), srv.URL+"/packs/x")):
				t.Errorf("status %d: %q names neither status nor URL", tc.status, err)
			}
		}
		srv.Close()
	}
}

func TestBasicAuth(t *testing.T) {
	lb, url := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	if err := seeder(lb)("x", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	withAuth := strings.Replace(url, "http://", "http://alice:s3cret@", 1)
	b := newBackend(t, withAuth)
	if got, err := read(b, "x", 1, 3); err != nil || string(got) != "ell" {
		t.Errorf("Get with credentials: %q, %v", got, err)
	}
	if strings.Contains(b.Location(), "s3cret") || strings.Contains(b.Location(), "alice") {
		t.Errorf("Location %q shows credentials", b.Location())
	}
	wrong := newBackend(t, strings.Replace(url, "http://", "http://alice:wrong@", 1))
	_, err := wrong.Stat(context.Background(), "x")
	if !errors.Is(err, remote.ErrPermission) || strings.Contains(err.Error(), "alice:wrong") {
		t.Errorf("Stat with wrong credentials: %v", err)
	}
	if _, err := read(newBackend(t, url), "x", 0, -1); !errors.Is(err, remote.ErrPermission) {
		t.Errorf("Get without credentials: %v", err)
	}
}

// TestCredentialsNotInErrors checks that the URL's userinfo appears in no
// error: not from New's checks, not from a URL that does not parse, not
// from net/http.
func TestCredentialsNotInErrors(t *testing.T) {
	for _, u := range []string{
		"https://alice:hunter2@host/%zz",
		"https://alice:hunter2@host:port/x",
		"https://alice:hun/ter2@host/x?q=1",
		"ftp://alice:hunter2@host/x",
		"http://alice:hunter2@/x",
		"https://alice:hunter2@host/x#frag",
	} {
		_, err := httpread.New(u, nil, httpread.Options{})
		if err == nil || strings.Contains(err.Error(), "ter2") {
			t.Errorf("New(%q): %v", u, err)
		}
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // connection refused from now on
	b := newBackend(t, strings.Replace(srv.URL, "http://", "http://alice:hunter2@", 1)+"/store")
	ctx := context.Background()
	_, serr := b.Stat(ctx, "x")
	_, gerr := b.Get(ctx, "x", 1, 2, remote.GetOptions{})
	perr := b.Put(ctx, "x", strings.NewReader("a"), 1, remote.PutOptions{})
	lerr := b.List(ctx, "", remote.ListOptions{}, func(remote.Info) error { return nil })
	for _, err := range []error{serr, gerr, perr, lerr} {
		if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "alice") {
			t.Errorf("error %v shows the credentials", err)
		}
	}
	if loc := b.Location(); loc != srv.URL+"/store/" {
		t.Errorf("Location = %q", loc)
	}
}

func TestHeaderAndClient(t *testing.T) {
	var sawToken bool
	lb, url := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sawToken = r.Header.Get("Authorization") == "Bearer tok"
			h.ServeHTTP(w, r)
		})
	})
	if err := seeder(lb)("x", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{}
	b, err := httpread.New(url, client, httpread.Options{Header: http.Header{"Authorization": {"Bearer tok"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(context.Background(), "x"); err != nil || !sawToken {
		t.Errorf("Stat: %v, header sent: %v", err, sawToken)
	}
	if client.CheckRedirect != nil {
		t.Error("New changed the caller's client")
	}
}

// TestTruncatedBody checks that a body cut short by the server is an
// error (which the retrying decorator resumes), not a short object.
func TestTruncatedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Header().Set("Content-Range", "bytes 0-99/100")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(make([]byte, 40))
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	_, err := read(newBackend(t, srv.URL), "x", 0, 100)
	if err == nil || remote.IsPermanent(err) {
		t.Errorf("truncated body: %v, want a retryable error", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, u := range []string{"ftp://host/x", "http:///x", "http://host/x?q=1", "::"} {
		if _, err := httpread.New(u, nil, httpread.Options{}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}

// TestHostile runs the hostile servers' checks through the client New
// makes.
func TestHostile(t *testing.T) {
	remotetest.RunHostile(t, func(t *testing.T, url string, timeouts remote.HTTPTimeouts) remote.Backend {
		b, err := httpread.New(url+"/store", nil, httpread.Options{Timeouts: timeouts})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, remotetest.HostileOptions{})
}
