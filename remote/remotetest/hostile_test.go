package remotetest_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lodevcs/lode/remote/remotetest"
)

func TestSilentServer(t *testing.T) {
	s := remotetest.NewSilentServer(t)
	c := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 200 * time.Millisecond}}
	start := time.Now()
	_, err := c.Get(s.URL + "/x")
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("GET from the silent server: %v, want a timeout", err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 5*time.Second {
		t.Errorf("timed out after %v", el)
	}
	if s.Requests() != 1 {
		t.Errorf("%d connections, want 1", s.Requests())
	}
}

func TestDripServer(t *testing.T) {
	body := []byte("0123456789")
	s := remotetest.NewDripServer(t, body, 50*time.Millisecond)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/any/path", nil)
	req.Header.Set("Range", "bytes=4-")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 6 || time.Since(start) > time.Second {
		t.Errorf("%s, Content-Length %d, after %v", resp.Status, resp.ContentLength, time.Since(start))
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "456" {
		t.Errorf("first bytes %q, %v", buf, err)
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("3 bytes in %v, want at least 2 intervals", el)
	}
	head, err := http.Head(s.URL + "/x")
	if err != nil || head.ContentLength != 10 {
		t.Errorf("HEAD: %v, %v", head, err)
	}
	// Closing does not wait for the drip to end.
	start = time.Now()
	s.Close()
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Close took %v", el)
	}
}

func TestBreakingServer(t *testing.T) {
	body := remotetest.Data(1, 10_000)
	s := remotetest.NewBreakingServer(t, body, 100)
	for _, off := range []int{0, 5000} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/x", nil)
		if off > 0 {
			req.Header.Set("Range", "bytes=5000-")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(got, body[off:off+100]) || resp.ContentLength != int64(len(body)-off) {
			t.Errorf("from %d: %d bytes of %d, %v", off, len(got), resp.ContentLength, err)
		}
	}
	if s.Requests() != 2 {
		t.Errorf("%d requests, want 2", s.Requests())
	}
}
