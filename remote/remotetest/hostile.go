package remotetest

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// HostileServer is a real server on 127.0.0.1 that misbehaves the way
// remotes do on bad networks, for tests of deadlines and retries of the
// back ends' clients and of remote.NewRetrying, and for end-to-end tests
// (a clone whose lode remote is one). It is closed when the test ends;
// closing it drops every connection it holds.
//
// The HTTP ones (NewDripServer, NewBreakingServer) serve the same body for
// every path, as a static file server would: a GET gets 200 OK, or 206
// Partial Content for a Range header (so resumed downloads ask for the
// rest), a HEAD gets the size at once. That is what httpread and the S3
// SDK expect of an object read (GetObject, HeadObject); S3 listings and
// Google Cloud Storage's JSON metadata are not served (use
// NewSilentServer against those).
type HostileServer struct {
	// URL is "http://127.0.0.1:port", without a trailing slash; Addr is
	// "127.0.0.1:port".
	URL, Addr string

	requests atomic.Int64
	close    func()
	once     sync.Once
}

// Requests returns how many requests the server received (for
// NewSilentServer: how many connections it accepted).
func (s *HostileServer) Requests() int { return int(s.requests.Load()) }

// Close stops the server and drops its connections. It may be called more
// than once.
func (s *HostileServer) Close() { s.once.Do(s.close) }

// NewSilentServer returns a server that accepts TCP connections and holds
// them open without reading or writing a byte: a remote that hangs. A
// client without a response-header timeout waits on it forever.
func NewSilentServer(t testing.TB) *HostileServer {
	t.Helper()
	l := listen(t)
	s := &HostileServer{Addr: l.Addr().String()}
	s.URL = "http://" + s.Addr
	var conns []net.Conn // written by the accepting goroutine until done
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.requests.Add(1)
			conns = append(conns, c)
		}
	}()
	s.close = func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}
	t.Cleanup(s.Close)
	return s
}

// NewDripServer returns an HTTP server that answers a GET with its status
// and headers at once, then sends the body (or the range asked for) one
// byte at a time, one every interval: a remote on a link that barely
// moves. At interval time.Second a 1 MiB body takes twelve days.
func NewDripServer(t testing.TB, body []byte, interval time.Duration) *HostileServer {
	t.Helper()
	stop := make(chan struct{})
	return serveHTTP(t, stop, body, func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
		return &dripWriter{ResponseWriter: w, interval: interval, stop: stop, req: r}
	})
}

// NewBreakingServer returns an HTTP server whose every response breaks
// off after the first after bytes of its body: status and headers
// (Content-Length included) go out whole, then the connection is dropped,
// as by a flaky network. A client resuming from where the body broke
// gains after bytes a request.
func NewBreakingServer(t testing.TB, body []byte, after int) *HostileServer {
	t.Helper()
	return serveHTTP(t, make(chan struct{}), body, func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
		return &breakingWriter{ResponseWriter: w, left: after}
	})
}

// listen opens a listener on 127.0.0.1.
func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hostile server: %v", err)
	}
	return l
}

// serveHTTP serves body through the writer that wrap makes of each
// response; stop is closed first when the server closes.
func serveHTTP(t testing.TB, stop chan struct{}, body []byte, wrap func(http.ResponseWriter, *http.Request) http.ResponseWriter) *HostileServer {
	s := &HostileServer{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		w.Header().Set("Content-Type", "application/octet-stream") // no sniffing through the slow writer
		http.ServeContent(wrap(w, r), r, "", time.Time{}, bytes.NewReader(body))
	}))
	srv.Listener.Close()
	srv.Listener = listen(t)
	srv.Start()
	s.URL, s.Addr = srv.URL, srv.Listener.Addr().String()
	s.close = func() {
		close(stop)
		srv.CloseClientConnections()
		srv.Close()
	}
	t.Cleanup(s.Close)
	return s
}

// dripWriter writes one byte every interval, flushing each.
type dripWriter struct {
	http.ResponseWriter
	interval time.Duration
	stop     chan struct{}
	req      *http.Request
}

func (w *dripWriter) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := w.ResponseWriter.Write(p[i : i+1]); err != nil {
			return i, err
		}
		http.NewResponseController(w.ResponseWriter).Flush()
		select {
		case <-time.After(w.interval):
		case <-w.stop:
			return i + 1, http.ErrAbortHandler
		case <-w.req.Context().Done():
			return i + 1, w.req.Context().Err()
		}
	}
	return len(p), nil
}

// breakingWriter writes left bytes, then aborts the response, which makes
// the server drop the connection.
type breakingWriter struct {
	http.ResponseWriter
	left int
}

func (w *breakingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.left {
		w.left -= len(p)
		return w.ResponseWriter.Write(p)
	}
	w.ResponseWriter.Write(p[:w.left])
	w.left = 0
	http.NewResponseController(w.ResponseWriter).Flush()
	panic(http.ErrAbortHandler)
}
