// Package serve serves the commits of a repository over HTTP, read-only:
// `git lode serve`. It reads them through commitfs.Trees, the mount's read
// path without FUSE, so a URL shows what the mount shows, with the same
// checks: lode files are read lazily, a chunk at a time, each checked
// against its id; Git LFS files of old history (with Options.Foreign set
// on the Trees) come from Git LFS's local store, checked whole against
// their SHA-256 before a byte is sent; names git refuses to check out are
// not there; a damaged pointer is refused.
//
// # URLs
//
// GET (or HEAD) /REV/PATH, where REV is a revision (a branch, tag, commit
// id, "main~3"; URL-escaped, so a branch "a/b" is "a%2Fb") that
// Revisions resolves, and PATH a file or directory of its tree:
//
//   - a file answers its bytes, with Range requests (one range or several,
//     as net/http's ServeContent does; a range past the end is 416),
//     ETag "ID" (the lode oid of a lode file, "sha256:<hex>" of a Git LFS
//     file of old history, else the git blob id, so a client can check
//     what it got against the pointer), Content-Length,
//     Accept-Ranges, Last-Modified (the commit's time), and the
//     conditional requests that go with them (If-None-Match, If-Range);
//   - a directory (PATH empty, or ending in "/", or naming one) answers a
//     JSON listing (see Listing), ETag the tree id;
//   - a symlink answers a redirect (302) to the path its target names in
//     the same commit, or 404 if the target leaves the tree;
//   - every answer carries X-Lode-Commit (the commit id REV resolved to)
//     and, for files and directories, X-Lode-Type ("file" or "dir"); an
//     answer for a REV that is a full commit id may be cached forever
//     (Cache-Control: immutable), others must be revalidated (no-cache).
//
// GET / answers a JSON object {"revisions": [...]} with what Revisions
// lists, if anything.
//
// # Refused
//
// A revision or path that does not exist is 404 with a message; a path
// with an empty, "." or ".." component, an encoded "/" (%2F) or a NUL in
// a component is 400; names git refuses to check out (.git in any
// spelling, see commitfs) are not in any tree, so 404; a damaged pointer,
// or content that fails its check when opened (a damaged Git LFS object),
// is 500; content that cannot be had (a Git LFS object not in the local
// store, a lode remote down) is 502; methods other than GET and HEAD are
// 405. Errors are short text/plain messages.
//
// # Limits
//
// At most Options.MaxRequests requests are served at once (others wait);
// a file's bytes are copied through a buffer of Options.BufferSize, so a
// request costs that, plus the reader's readahead (rangeread), plus, for a
// plain git file, the blob (read whole, as the mount does). A client that
// goes away mid-body ends its request's read at once (the read's context
// is the request's).
package serve

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/fuse/commitfs"
)

// ErrUnknownRevision is what Revisions.Resolve wraps for a revision that
// names no commit: the request is answered 404.
var ErrUnknownRevision = errors.New("unknown revision")

// Commit is what a revision resolves to.
type Commit struct {
	ID   commitfs.Hash // the commit
	Root commitfs.Hash // its root tree
	Time time.Time     // its time (Last-Modified); zero for none
}

// Revisions resolves the revisions of URLs. It is called from many
// goroutines at once.
type Revisions interface {
	// Resolve returns the commit rev names, or an error wrapping
	// ErrUnknownRevision (404) or another (500).
	Resolve(ctx context.Context, rev string) (Commit, error)
	// List returns the revisions to show at "/" (nil: none).
	List() []string
}

// Options configure a Handler.
type Options struct {
	Trees     *commitfs.Trees // required
	Revisions Revisions       // required
	// Logf gets one line per request and every error; nil discards.
	Logf func(format string, args ...any)
	// MaxRequests bounds the requests served at once; 0 means
	// DefaultMaxRequests.
	MaxRequests int
	// BufferSize is the buffer each file request copies through; 0 means
	// DefaultBufferSize.
	BufferSize int
}

// Defaults of Options.
const (
	DefaultMaxRequests = 64
	DefaultBufferSize  = 256 << 10
)

// Handler serves the commits Revisions names.
type Handler struct {
	trees *commitfs.Trees
	revs  Revisions
	logf  func(format string, args ...any)
	slots chan struct{}
	bufs  sync.Pool // of *[]byte of Options.BufferSize
}

// NewHandler returns a Handler for opts.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Trees == nil || opts.Revisions == nil {
		return nil, errors.New("serve: Options.Trees and Options.Revisions are required")
	}
	if opts.MaxRequests < 0 || opts.BufferSize < 0 {
		return nil, errors.New("serve: negative limit")
	}
	h := &Handler{trees: opts.Trees, revs: opts.Revisions, logf: opts.Logf,
		slots: make(chan struct{}, cmp.Or(opts.MaxRequests, DefaultMaxRequests))}
	size := cmp.Or(opts.BufferSize, DefaultBufferSize)
	h.bufs.New = func() any { b := make([]byte, size); return &b }
	if h.logf == nil {
		h.logf = func(string, ...any) {}
	}
	return h, nil
}

// Listing is the JSON of a directory.
type Listing struct {
	Revision string         `json:"revision"` // as the URL gave it
	Commit   string         `json:"commit"`   // what it resolved to
	Path     string         `json:"path"`     // the directory, "" for the root
	Entries  []ListingEntry `json:"entries"`  // in git's order
}

// ListingEntry is one entry of a Listing.
type ListingEntry struct {
	Name string `json:"name"`
	Type string `json:"type"` // "file", "dir" or "symlink"
	Size int64  `json:"size"` // a file's size (a lode file's real size), a symlink target's length; 0 for a directory
	// OID is the file's lode oid, or the git object id of anything else
	// (the ETag of the file).
	OID  string `json:"oid"`
	Lode bool   `json:"lode,omitempty"`
	// Foreign names the tool whose pointer the file's blob is ("git-lfs"
	// for a Git LFS file of old history); OID is then that tool's oid
	// ("sha256:<hex>").
	Foreign    string `json:"foreign,omitempty"`
	Executable bool   `json:"executable,omitempty"`
	Target     string `json:"target,omitempty"` // a symlink's
}

// statusWriter records what was answered, for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &statusWriter{ResponseWriter: rw}
	select {
	case h.slots <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-h.slots }()
	h.serve(w, r)
	h.logf("%s %s %d %d bytes %v", r.Method, r.URL.EscapedPath(), w.status, w.bytes, time.Since(start).Round(time.Microsecond))
}

// httpError answers code with a one-line message.
func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Del("Cache-Control")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, "git-lode serve: "+format+"\n", args...)
}

// parseURL splits an escaped URL path into its revision and the path in
// the tree, and whether it ends in "/". Anything that could reach outside
// the tree or be read two ways is refused.
func parseURL(escaped string) (rev, p string, dir bool, err error) {
	if !strings.HasPrefix(escaped, "/") {
		return "", "", false, errors.New("the path must start with /")
	}
	segs := strings.Split(escaped[1:], "/")
	if rev, err = url.PathUnescape(segs[0]); err != nil || rev == "" {
		return "", "", false, fmt.Errorf("bad revision %q in the URL", segs[0])
	}
	segs = segs[1:]
	if n := len(segs); n > 0 && segs[n-1] == "" {
		dir = true
		segs = segs[:n-1]
	}
	if len(segs) == 0 {
		dir = true
	}
	names := make([]string, len(segs))
	for i, s := range segs {
		if strings.Contains(strings.ToLower(s), "%2f") {
			return "", "", false, fmt.Errorf("path component %q holds an encoded /", s)
		}
		name, err := url.PathUnescape(s)
		if err != nil {
			return "", "", false, fmt.Errorf("path component %q: %v", s, err)
		}
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return "", "", false, fmt.Errorf("path component %q is not a file name", s)
		}
		names[i] = name
	}
	return rev, strings.Join(names, "/"), dir, nil
}

func (h *Handler) serve(w *statusWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "%s not allowed: the server is read-only (GET and HEAD)", r.Method)
		return
	}
	escaped := r.URL.EscapedPath()
	if escaped == "/" || escaped == "" {
		h.index(w)
		return
	}
	rev, p, wantDir, err := parseURL(escaped)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ctx := r.Context()
	c, err := h.revs.Resolve(ctx, rev)
	if err != nil {
		if errors.Is(err, ErrUnknownRevision) {
			httpError(w, http.StatusNotFound, "%v", err)
			return
		}
		h.logf("resolve %q: %v", rev, err)
		httpError(w, http.StatusInternalServerError, "resolve %q: %v", rev, err)
		return
	}
	hd := w.Header()
	hd.Set("X-Lode-Commit", c.ID.String())
	if isCommitID(rev, c.ID) {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	st, err := h.trees.Lookup(ctx, c.Root, p)
	if err != nil {
		h.lookupError(w, rev, p, err)
		return
	}
	switch {
	case st.Kind == commitfs.KindDir:
		h.listing(w, r, rev, c, st)
	case wantDir:
		httpError(w, http.StatusNotFound, "%s:%s is not a directory", rev, p)
	case st.Kind == commitfs.KindSymlink:
		h.symlink(w, r, rev, p, st)
	default:
		h.file(w, r, c, st)
	}
}

func (h *Handler) lookupError(w *statusWriter, rev, p string, err error) {
	switch {
	case errors.Is(err, commitfs.ErrNotExist), errors.Is(err, commitfs.ErrNotDir):
		httpError(w, http.StatusNotFound, "%s:%s: no such file or directory in that revision", rev, p)
	case errors.Is(err, commitfs.ErrInvalidPath):
		httpError(w, http.StatusBadRequest, "%v", err)
	default:
		h.logf("%s:%s: %v", rev, p, err)
		httpError(w, http.StatusInternalServerError, "%s:%s: %v", rev, p, err)
	}
}

// isCommitID reports whether rev is commit id itself, in full: what it
// names can never change.
func isCommitID(rev string, id commitfs.Hash) bool {
	return strings.EqualFold(rev, id.String())
}

func (h *Handler) index(w *statusWriter) {
	revs := h.revs.List()
	if revs == nil {
		revs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_ = json.NewEncoder(w).Encode(map[string]any{"revisions": revs})
}

func (h *Handler) listing(w *statusWriter, r *http.Request, rev string, c Commit, st commitfs.Stat) {
	etag := `"` + st.Object.String() + `"`
	hd := w.Header()
	hd.Set("X-Lode-Type", "dir")
	hd.Set("ETag", etag)
	hd.Set("Content-Type", "application/json")
	if !c.Time.IsZero() {
		hd.Set("Last-Modified", c.Time.UTC().Format(http.TimeFormat))
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	es, err := h.trees.ReadDir(r.Context(), c.Root, st.Path)
	if err != nil {
		if r.Context().Err() == nil {
			h.logf("list %s:%s: %v", rev, st.Path, err)
			httpError(w, http.StatusInternalServerError, "list %s:%s: %v", rev, st.Path, err)
		}
		return
	}
	l := Listing{Revision: rev, Commit: c.ID.String(), Path: st.Path, Entries: make([]ListingEntry, len(es))}
	for i, e := range es {
		l.Entries[i] = ListingEntry{Name: e.Name, Type: e.Kind.String(), Size: e.Size, OID: e.ID(), Lode: e.Lode, Executable: e.Exec, Target: e.Target}
		if e.Foreign != nil {
			l.Entries[i].Foreign = e.Foreign.Tool
		}
	}
	b, err := json.Marshal(l)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encode the listing: %v", err)
		return
	}
	b = append(b, '\n')
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// etagMatch reports whether an If-None-Match header lists etag (or "*").
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// symlink redirects to the path the link's target names, if it stays in
// the tree.
func (h *Handler) symlink(w *statusWriter, r *http.Request, rev, p string, st commitfs.Stat) {
	target := st.Target
	if target == "" || path.IsAbs(target) {
		httpError(w, http.StatusNotFound, "%s:%s is a symlink to %q, outside the commit", rev, p, target)
		return
	}
	joined := path.Join(path.Dir(p), target)
	if joined == ".." || strings.HasPrefix(joined, "../") {
		httpError(w, http.StatusNotFound, "%s:%s is a symlink to %q, outside the commit", rev, p, target)
		return
	}
	loc := "/" + url.PathEscape(rev) + "/"
	if joined != "." {
		parts := strings.Split(joined, "/")
		for i, s := range parts {
			parts[i] = url.PathEscape(s)
		}
		loc += strings.Join(parts, "/")
	}
	http.Redirect(w, r, loc, http.StatusFound)
}

func (h *Handler) file(w *statusWriter, r *http.Request, c Commit, st commitfs.Stat) {
	ctx := r.Context()
	f, err := h.trees.Open(ctx, st)
	if err != nil {
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, commitfs.ErrDamaged):
			httpError(w, http.StatusInternalServerError, "%v", err)
		case errors.Is(err, cas.ErrCorrupt):
			// A damaged object (a Git LFS object that fails its
			// SHA-256): never served.
			h.logf("open %s: %v", st.Path, err)
			httpError(w, http.StatusInternalServerError, "%v", err)
		default:
			h.logf("open %s: %v", st.Path, err)
			httpError(w, http.StatusBadGateway, "%v", err)
		}
		return
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("X-Lode-Type", "file")
	hd.Set("ETag", `"`+st.ID()+`"`)
	if ct := mime.TypeByExtension(path.Ext(st.Name)); ct != "" {
		hd.Set("Content-Type", ct)
	}
	buf := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(buf)
	rs := &readSeeker{ctx: ctx, f: f, buf: (*buf)[:0]}
	http.ServeContent(w, r, st.Name, c.Time, rs)
	if rs.err != nil && ctx.Err() == nil {
		h.logf("read %s: %v", st.Path, rs.err)
	}
}

// readSeeker reads a commitfs.File for ServeContent through a buffer,
// so that the file is read in large pieces whatever ServeContent asks:
// after a seek, a read asks the file for what the caller asked, and each
// read that follows for twice the last, up to the buffer's size (a small
// range costs a small read; a long one, reads of the whole buffer).
type readSeeker struct {
	ctx  context.Context
	f    *commitfs.File
	off  int64 // of the next byte Read returns
	buf  []byte
	pos  int // the next byte of buf to return
	last int // size of the last read from the file, 0 after a seek
	err  error
}

func (r *readSeeker) Read(p []byte) (int, error) {
	if r.pos == len(r.buf) {
		if r.off >= r.f.Size() {
			return 0, io.EOF
		}
		want := min(cap(r.buf), max(len(p), 2*r.last))
		n, err := r.f.ReadAt(r.ctx, r.buf[:want], r.off)
		if err != nil && !errors.Is(err, io.EOF) {
			r.err = err
			return 0, err
		}
		r.buf, r.pos, r.last = r.buf[:n], 0, want
		if n == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	r.off += int64(n)
	return n, nil
}

func (r *readSeeker) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.f.Size() + offset
	default:
		return 0, errors.New("seek: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("seek: negative position")
	}
	if abs != r.off {
		r.off, r.buf, r.pos, r.last = abs, r.buf[:0], 0, 0
	}
	return abs, nil
}
