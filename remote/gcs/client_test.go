package gcs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/auth"

	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/remotetest"
)

type staticToken struct{}

func (staticToken) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: "test-token", Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

// TestAuthenticatedClient checks the client NewClientFromEnv builds with
// credentials: requests carry the token, and go through a transport with
// the timeouts asked for.
func TestAuthenticatedClient(t *testing.T) {
	creds := auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken{}})
	var mu sync.Mutex
	var authz []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		authz = append(authz, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := newClient(ctx, srv.URL+"/storage/v1/", creds, remote.HTTPTimeouts{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := New(c, "bucket", "p")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := b.Get(ctx, "x", 0, -1, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "hello" {
		t.Errorf("Get: %q, %v", got, err)
	}
	mu.Lock()
	if len(authz) != 1 || authz[0] != "Bearer test-token" {
		t.Errorf("Authorization headers %q", authz)
	}
	mu.Unlock()

	silent := remotetest.NewSilentServer(t)
	c, err = newClient(ctx, silent.URL+"/storage/v1/", creds, remote.HTTPTimeouts{ResponseHeader: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b, err = New(c, "bucket", "p"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Stat(ctx, "x")
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() || time.Since(start) > 5*time.Second {
		t.Errorf("Stat from a silent server: %v after %v, want a timeout after 300ms", err, time.Since(start))
	}
}
