package httpread

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lodevcs/lode/remote"
)

var _ remote.Backend = (*Backend)(nil)

// Options tune a Backend. The zero value is the default.
type Options struct {
	// Header is added to every request (for example a bearer token or a
	// User-Agent). It is not modified.
	Header http.Header
	// DiscardToOffset makes a Get from a server that ignores Range
	// headers (Python 3.11's "python3 -m http.server" does) read and
	// discard the bytes before the offset, instead of failing with an
	// error wrapping errors.ErrUnsupported. Reads are then correct but
	// slow: every chunk read costs a download of its pack up to the chunk.
	DiscardToOffset bool
	// Timeouts bound connecting and the wait for each response's header
	// in the client New makes when given none (zero fields: the
	// defaults, remote.DefaultDialTimeout, ...). A client passed to New
	// keeps its own settings.
	Timeouts remote.HTTPTimeouts
}

// Backend reads objects over HTTP. It is safe for concurrent use.
type Backend struct {
	base     *url.URL // without userinfo; path ends in "/"
	user     *url.Userinfo
	client   *http.Client
	ownsConn bool // client was made by New: Close closes its idle connections
	opts     Options
}

// New returns a back end reading the store at baseURL, an http or https
// URL whose path is the store's root. Requests go through client; nil
// means a private client with opts.Timeouts. Requests carry no overall
// deadline of their own: wrap the back end in remote.NewRetrying for
// deadlines, minimum rates and retries.
func New(baseURL string, client *http.Client, opts Options) (*Backend, error) {
	u, err := remote.ParseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("http remote: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("http remote %s: scheme must be http or https", redact(u))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("http remote %s: no host", redact(u))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("http remote %s: query and fragment are not supported", redact(u))
	}
	b := &Backend{user: u.User, opts: opts}
	base := *u
	base.User = nil
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
		if base.RawPath != "" {
			base.RawPath += "/"
		}
	}
	b.base = &base
	if client == nil {
		client = &http.Client{Transport: opts.Timeouts.Transport()}
		b.ownsConn = true
	}
	// A copy, so that the caller's client is not changed.
	c := *client
	next := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if prev := via[len(via)-1].URL; req.URL.Path == prev.Path+"/" && req.URL.Host == prev.Host {
			return http.ErrUseLastResponse // a directory: see notFoundRedirect
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	b.client = &c
	return b, nil
}

// redact shows u for a message: without userinfo, query and fragment
// (a query may hold a signature or a token).
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
	return c.String()
}

// Location is the base URL without credentials.
func (b *Backend) Location() string { return b.base.String() }

// Close closes idle connections of the client New made; a client passed
// to New is left alone.
func (b *Backend) Close() error {
	if b.ownsConn {
		b.client.CloseIdleConnections()
	}
	return nil
}

// url returns the URL of name, escaping each segment.
func (b *Backend) url(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return b.base.String() + strings.Join(segs, "/")
}

func (b *Backend) do(ctx context.Context, method, name string, header http.Header) (*http.Response, string, error) {
	u := b.url(name)
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, u, err
	}
	for k, v := range b.opts.Header {
		req.Header[k] = v
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if b.user != nil {
		pass, _ := b.user.Password()
		req.SetBasicAuth(b.user.Username(), pass)
	}
	resp, err := b.client.Do(req)
	return resp, u, err
}

// statusError translates a response that is not a success.
func statusError(resp *http.Response, u string) error {
	var sentinel error
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		sentinel = remote.ErrNotExist
	case http.StatusUnauthorized, http.StatusForbidden:
		sentinel = remote.ErrPermission
	case http.StatusRequestedRangeNotSatisfiable:
		sentinel = remote.ErrRange
	default:
		if notFoundRedirect(resp) {
			sentinel = remote.ErrNotExist
		}
	}
	if sentinel != nil {
		return fmt.Errorf("%w (%s from %s)", sentinel, resp.Status, u)
	}
	return fmt.Errorf("%s from %s", resp.Status, u)
}

// notFoundRedirect reports whether resp redirects to its own URL with a
// trailing slash, which is how static servers answer for a directory.
func notFoundRedirect(resp *http.Response) bool {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return false
	}
	loc, err := resp.Location()
	return err == nil && loc.Path == resp.Request.URL.Path+"/"
}

// discard closes a body that is not needed, reading a little of it first
// so that the connection can be reused.
func discard(body io.ReadCloser) {
	io.CopyN(io.Discard, body, 4<<10)
	body.Close()
}

// Get reads length bytes of name from off (to the end if length < 0) with
// one ranged GET.
func (b *Backend) Get(ctx context.Context, name string, off, length int64, _ remote.GetOptions) (io.ReadCloser, error) {
	fail := func(err error) error { return fmt.Errorf("get %s: %w", name, err) }
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	if err := remote.ValidateName(name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fail(fmt.Errorf("negative offset %d: %w", off, remote.ErrRange))
	}
	if length == 0 {
		// No range header can ask for zero bytes; check the object
		// exists and off is within it.
		info, err := b.Stat(ctx, name)
		if err != nil {
			return nil, err
		}
		if off > info.Size {
			return nil, fail(fmt.Errorf("offset %d of an object of %d bytes: %w", off, info.Size, remote.ErrRange))
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	header := http.Header{}
	switch {
	case length > 0:
		header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	case off > 0:
		header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, u, err := b.do(ctx, http.MethodGet, name, header)
	if err != nil {
		return nil, fail(err)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		first, last, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		want := off + length // end of the range asked for, or of the object
		if length < 0 || (size >= 0 && size < want) {
			want = size
		}
		if !ok || first != off || (want >= 0 && last+1 < want) {
			discard(resp.Body)
			return nil, fail(fmt.Errorf("asked for bytes from %d, %s answered with Content-Range %q", off, u, resp.Header.Get("Content-Range")))
		}
	case http.StatusOK:
		if off != 0 {
			if size := resp.ContentLength; size >= 0 && off >= size {
				// Some servers answer so for an empty file.
				discard(resp.Body)
				return b.pastEnd(name, off, size)
			}
			if !b.opts.DiscardToOffset {
				resp.Body.Close()
				return nil, fail(fmt.Errorf("%s ignored the Range header (200 OK to a range from byte %d): %w", u, off, errors.ErrUnsupported))
			}
			if n, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
				resp.Body.Close()
				if err == io.EOF {
					return b.pastEnd(name, off, n)
				}
				return nil, fail(err)
			}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		discard(resp.Body)
		_, _, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok {
			info, err := b.Stat(ctx, name)
			if err != nil {
				return nil, err
			}
			size = info.Size
		}
		return b.pastEnd(name, off, size)
	default:
		discard(resp.Body)
		return nil, fail(statusError(resp, u))
	}
	if length < 0 {
		return resp.Body, nil
	}
	return &limitedBody{Reader: io.LimitReader(resp.Body, length), c: resp.Body}, nil
}

// pastEnd answers a range from off of an object of size bytes, where off
// is at or past the end.
func (b *Backend) pastEnd(name string, off, size int64) (io.ReadCloser, error) {
	if off == size {
		return io.NopCloser(strings.NewReader("")), nil
	}
	return nil, fmt.Errorf("get %s: offset %d of an object of %d bytes: %w", name, off, size, remote.ErrRange)
}

type limitedBody struct {
	io.Reader
	c io.Closer
}

func (l *limitedBody) Close() error { return l.c.Close() }

// parseContentRange parses "bytes first-last/size" and "bytes */size";
// size is -1 when given as "*". For "bytes */size", first is -1.
func parseContentRange(s string) (first, last, size int64, ok bool) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, false
	}
	rng, sz, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return 0, 0, 0, false
	}
	size = -1
	if sz != "*" {
		var err error
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < 0 {
			return 0, 0, 0, false
		}
	}
	if rng == "*" {
		return -1, -1, size, size >= 0
	}
	a, z, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(z, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

// Stat sends HEAD and returns Content-Length. If the server sends none,
// it asks for the first byte and reads the size from Content-Range.
func (b *Backend) Stat(ctx context.Context, name string) (remote.Info, error) {
	fail := func(err error) error { return fmt.Errorf("stat %s: %w", name, err) }
	if err := ctx.Err(); err != nil {
		return remote.Info{}, fail(err)
	}
	if err := remote.ValidateName(name); err != nil {
		return remote.Info{}, err
	}
	resp, u, err := b.do(ctx, http.MethodHead, name, nil)
	if err != nil {
		return remote.Info{}, fail(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return remote.Info{}, fail(statusError(resp, u))
	}
	if resp.ContentLength >= 0 {
		return remote.Info{Name: name, Size: resp.ContentLength}, nil
	}
	resp, u, err = b.do(ctx, http.MethodGet, name, http.Header{"Range": {"bytes=0-0"}})
	if err != nil {
		return remote.Info{}, fail(err)
	}
	discard(resp.Body)
	size := int64(-1)
	switch resp.StatusCode {
	case http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable:
		_, _, size, _ = parseContentRange(resp.Header.Get("Content-Range"))
	case http.StatusOK:
		size = resp.ContentLength
	default:
		return remote.Info{}, fail(statusError(resp, u))
	}
	if size < 0 {
		return remote.Info{}, fail(fmt.Errorf("%s tells neither Content-Length nor Content-Range", u))
	}
	return remote.Info{Name: name, Size: size}, nil
}

// Put fails with remote.ErrReadOnly.
func (b *Backend) Put(ctx context.Context, name string, _ io.ReaderAt, _ int64, _ remote.PutOptions) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return fmt.Errorf("put %s on %s: %w", name, b.Location(), remote.ErrReadOnly)
}

// Delete fails with remote.ErrReadOnly.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return fmt.Errorf("delete %s on %s: %w", name, b.Location(), remote.ErrReadOnly)
}

// List fails with an error wrapping remote.ErrReadOnly and
// errors.ErrUnsupported: a static server cannot list.
func (b *Backend) List(ctx context.Context, prefix string, _ remote.ListOptions, _ func(remote.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return fmt.Errorf("list %q on %s: %w: a plain HTTP server cannot list objects (%w)", prefix, b.Location(), remote.ErrReadOnly, errors.ErrUnsupported)
}
