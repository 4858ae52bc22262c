package filterproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Sentinel errors that callers branch on with errors.Is.
var (
	// ErrAbort, wrapped in an error returned by a Handler or Delayer
	// method, answers git with status=abort: git sends no more requests of
	// that command for the rest of its run. Any other error answers
	// status=error, which fails only the one file.
	ErrAbort = errors.New("filter aborted")
	// ErrProtocol means git's side of the conversation broke the
	// protocol (a bad handshake or a malformed packet). Serve returns an
	// error wrapping it.
	ErrProtocol = errors.New("filter protocol violation")
)

// Request describes one clean or smudge request from git.
type Request struct {
	Command  string // "clean" or "smudge"
	Pathname string // path of the file relative to the repository root
	// Ref, Treeish and Blob are metadata git sends when it knows them
	// (for example on checkout of a commit); empty otherwise.
	Ref, Treeish, Blob string
	// CanDelay is true when git allows this smudge to be delayed.
	CanDelay bool
	// Delayed is true when git asks again for a smudge that the Delayer
	// accepted earlier; the content is the one git sent then.
	Delayed bool
}

// Handler does the work of a filter. Serve calls its methods one at a time,
// on the goroutine that called Serve.
type Handler interface {
	// Clean reads the file's content from r and writes what git should
	// store to w. r ends (io.EOF) where git's content ends; an error from
	// r other than io.EOF means the conversation with git broke, and
	// Serve returns it whatever Clean returns. Writes to w are held back
	// until r has reached its end, and sent to git as they come after
	// that; Clean need not read r to its end. r and w are valid only
	// during the call.
	Clean(ctx context.Context, req *Request, r io.Reader, w io.Writer) error
	// Smudge reads what git stored from r and writes the file's content
	// to w. r holds the whole request content, already read from git;
	// writes to w stream to git. r and w are valid only during the call.
	Smudge(ctx context.Context, req *Request, r io.Reader, w io.Writer) error
}

// Delayer is an optional interface of a Handler. When Options.Delay is set
// and git offers the capability, a Handler that implements Delayer gets
// smudge requests that git allows to delay. Its methods are called on the
// goroutine that called Serve, never concurrently with each other or with
// the Handler's.
type Delayer interface {
	// Delay is called for a smudge request with CanDelay set, instead of
	// Smudge, with the whole content (which the Delayer may keep but must
	// not modify). Returning true means the Delayer took the file on and
	// will report req.Pathname from Available once it is ready; git then
	// asks for the file again, and Smudge gets the same content (kept, or
	// read back through Options.DelayedContent) with req.Delayed set.
	// Returning false means Smudge is called at once.
	// Delay is only offered content small enough to be held in memory
	// (Options.SpoolMemory), since Serve keeps it until git asks again.
	Delay(ctx context.Context, req *Request, content []byte) (bool, error)
	// Available blocks until at least one delayed pathname is ready, or
	// none remain pending, and returns the ready ones; each pathname is
	// returned once. An empty result means nothing remains. Serve calls it
	// only while some delayed pathname has not yet been reported.
	Available(ctx context.Context) ([]string, error)
}

// Options adjust Serve. The zero value is ready to use.
type Options struct {
	// Delay offers git the "delay" capability, if the Handler implements
	// Delayer.
	Delay bool
	// Stderr receives one line per failed request, such as
	// "git-lode: smudge data/big.csv: <error>"; git passes the filter's
	// standard error through to the user. Nil discards the lines.
	Stderr io.Writer
	// Prog starts each Stderr line; empty means "git-lode".
	Prog string
	// SpoolDir is where smudge content larger than SpoolMemory is kept
	// while the Handler runs; empty means os.TempDir(). Files there are
	// removed before the request is answered.
	SpoolDir string
	// SpoolMemory is how many bytes of one request's smudge content (or of
	// clean output written before the content ended) are held in memory
	// before spilling to SpoolDir; 0 means 8 MiB.
	SpoolMemory int
	// DelayedContent, when set, lets Serve forget the content of a
	// delayed smudge whose request names its blob (git sends blob=<oid>
	// with the smudges of a checkout): when git asks for the file again
	// (with empty content and the same blob=), Serve gets the content from
	// DelayedContent instead of having kept it, so that a checkout of many
	// files does not hold every delayed file's content until git asks. It
	// returns the content of the git blob req.Blob, which git stores at
	// req.Pathname.
	DelayedContent func(ctx context.Context, req *Request) ([]byte, error)
}

const defaultSpoolMemory = 8 << 20

// Serve speaks the server side of git's long-running filter process
// protocol (version 2) on in (from git) and out (to git), calling h for
// each request, one at a time, on the calling goroutine.
//
// Serve returns nil when git closes in between requests. It returns an
// error wrapping ErrProtocol for a bad handshake or malformed input, an
// error wrapping io.ErrUnexpectedEOF when git closes in during a request,
// an error from writing out, or, once ctx is done, an error wrapping
// ctx.Err(). A failing request does not end Serve: the Handler's error is
// reported to git and Stderr, and Serve goes on.
//
// Serve checks ctx between requests and passes it to h. A Read from in or a
// Write to out that blocks is interrupted when ctx ends only if in has a
// SetReadDeadline method (out a SetWriteDeadline method), as pipes from
// os.Pipe and network connections do; Serve then sets a deadline in the
// past, which stays set. Serve closes neither in nor out.
func Serve(ctx context.Context, in io.Reader, out io.Writer, h Handler, opts Options) error {
	if d, ok := in.(interface{ SetReadDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	if d, ok := out.(interface{ SetWriteDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetWriteDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	s := newServer(in, out, h, opts)
	err := s.run(ctx)
	err = errors.Join(err, s.input.reset(), s.held.reset())
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		// The error is most likely the interrupted I/O.
		return fmt.Errorf("filterproc: %w (%v)", ctx.Err(), err)
	}
	return fmt.Errorf("filterproc: %w", err)
}

// server is the state of one Serve call. It is used by one goroutine.
type server struct {
	h       Handler
	delayer Delayer // non-nil once delay is negotiated
	offer   bool    // Options.Delay and h implements Delayer
	stderr  io.Writer
	prog    string

	pr    *pktReader
	pw    *pktWriter
	cr    contentReader
	input spool // smudge content
	held  spool // clean output written before the content ended

	// delayed holds the content of each smudge the Delayer accepted,
	// by pathname, until git asks for it again, unless delayedContent can
	// give it back: those are only counted, in light.
	delayed        map[string]*delayedBlob
	unsaid         int // delayed files not yet reported to git (light ones included)
	delayedContent func(ctx context.Context, req *Request) ([]byte, error)
	light          int // delayed files not kept (delayedContent), not yet asked for again
	lightUnsaid    int // of those, not yet reported to git
}

// Ids of the empty blob, whose content is empty: a smudge of it with
// empty content is no retry.
const (
	emptyBlobSHA1   = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
	emptyBlobSHA256 = "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813"
)

type delayedBlob struct {
	content  []byte
	reported bool
}

func newServer(in io.Reader, out io.Writer, h Handler, opts Options) *server {
	s := &server{
		h:              h,
		stderr:         opts.Stderr,
		prog:           opts.Prog,
		pr:             newPktReader(in),
		pw:             newPktWriter(out),
		delayed:        make(map[string]*delayedBlob),
		delayedContent: opts.DelayedContent,
	}
	_, isDelayer := h.(Delayer)
	s.offer = opts.Delay && isDelayer
	if s.stderr == nil {
		s.stderr = io.Discard
	}
	if s.prog == "" {
		s.prog = "git-lode"
	}
	dir := opts.SpoolDir
	if dir == "" {
		dir = os.TempDir()
	}
	limit := opts.SpoolMemory
	if limit <= 0 {
		limit = defaultSpoolMemory
	}
	s.cr.pr = s.pr
	s.input = spool{dir: dir, limit: limit}
	s.held = spool{dir: dir, limit: limit}
	return s
}

func (s *server) run(ctx context.Context) error {
	if err := s.handshake(); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		req, err := s.readRequest()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read request: %w", err)
		}
		if err := s.serve(ctx, req); err != nil {
			return fmt.Errorf("%s %s: %w", req.Command, req.Pathname, err)
		}
	}
}

// handshake exchanges the welcome, the version and the capabilities.
func (s *server) handshake() error {
	var welcome string
	var versions []string
	first := true
	err := s.pr.lines(func(l string) {
		if first {
			welcome, first = l, false
			return
		}
		if v, ok := cutKey(l, "version"); ok {
			versions = append(versions, v)
		}
	})
	if err == io.EOF {
		return fmt.Errorf("git closed the pipe before the handshake: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return err
	}
	if welcome != "git-filter-client" {
		return fmt.Errorf("%w: welcome is %q, want %q", ErrProtocol, welcome, "git-filter-client")
	}
	found := false
	for _, v := range versions {
		found = found || v == "2"
	}
	if !found {
		return fmt.Errorf("%w: git offers versions %q, this filter speaks only 2", ErrProtocol, versions)
	}
	s.pw.line("git-filter-server")
	s.pw.line("version=2")
	s.pw.flush()
	if err := s.pw.flushOut(); err != nil {
		return err
	}

	var caps []string
	err = s.pr.lines(func(l string) {
		c, ok := cutKey(l, "capability")
		if !ok {
			return
		}
		switch c {
		case "clean", "smudge":
		case "delay":
			if !s.offer {
				return
			}
			s.delayer = s.h.(Delayer)
		default:
			return
		}
		caps = append(caps, c)
	})
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	for _, c := range caps {
		s.pw.line("capability=" + c)
	}
	s.pw.flush()
	return s.pw.flushOut()
}

// cutKey returns the value of a "key=value" line if its key is key.
func cutKey(line, key string) (string, bool) {
	k, v, ok := cutEq(line)
	if !ok || k != key {
		return "", false
	}
	return v, true
}

func cutEq(line string) (k, v string, ok bool) {
	return strings.Cut(line, "=")
}

// readRequest reads the key=value list of a request. It returns io.EOF if
// git closed the pipe before the request.
func (s *server) readRequest() (*Request, error) {
	req := new(Request)
	err := s.pr.lines(func(l string) {
		k, v, ok := cutEq(l)
		if !ok {
			return
		}
		switch k {
		case "command":
			req.Command = v
		case "pathname":
			req.Pathname = v
		case "ref":
			req.Ref = v
		case "treeish":
			req.Treeish = v
		case "blob":
			req.Blob = v
		case "can-delay":
			req.CanDelay = v == "1"
		}
	})
	return req, err
}

// serve answers one request whose key=value list has been read. It returns
// only errors that break the conversation.
func (s *server) serve(ctx context.Context, req *Request) error {
	switch req.Command {
	case "clean":
		return s.clean(ctx, req)
	case "smudge":
		return s.smudge(ctx, req)
	case "list_available_blobs":
		if s.delayer != nil {
			return s.listAvailable(ctx)
		}
	}
	// Only clean and smudge carry content, so nothing is left to read.
	s.report(req, fmt.Errorf("unknown command %q", req.Command))
	s.pw.line("status=error")
	s.pw.flush()
	return s.pw.flushOut()
}

func (s *server) clean(ctx context.Context, req *Request) error {
	s.cr.reset()
	o := &output{s: s, in: &s.cr}
	herr := s.h.Clean(ctx, req, &s.cr, o)
	if err := s.cr.drain(); err != nil {
		return err
	}
	return s.finish(req, o, herr)
}

func (s *server) smudge(ctx context.Context, req *Request) (err error) {
	s.cr.reset()
	if err := s.input.reset(); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.input.reset()) }()
	_, serr := s.cr.WriteTo(&s.input)
	if err := s.cr.drain(); err != nil {
		return err
	}
	if serr != nil { // the spool failed, not git
		return s.finish(req, &output{s: s}, serr)
	}
	var r io.Reader
	if b, ok := s.delayed[req.Pathname]; ok && !req.CanDelay && s.input.empty() {
		delete(s.delayed, req.Pathname)
		if !b.reported {
			s.unsaid--
		}
		req.Delayed = true
		r = bytes.NewReader(b.content)
	} else if s.light > 0 && !req.CanDelay && s.input.empty() && req.Blob != "" && req.Blob != emptyBlobSHA1 && req.Blob != emptyBlobSHA256 {
		// git asks again for a file whose content was not kept: a
		// blob that is not empty, sent with empty content.
		s.light--
		req.Delayed = true
		content, err := s.delayedContent(ctx, req)
		if err != nil {
			return s.finish(req, &output{s: s}, fmt.Errorf("read the delayed file's blob %s again: %w", req.Blob, err))
		}
		r = bytes.NewReader(content)
	} else {
		mem, inMem := s.input.inMemory()
		if s.delayer != nil && req.CanDelay && inMem {
			content := bytes.Clone(mem)
			ok, err := s.delayer.Delay(ctx, req, content)
			if err != nil {
				return s.finish(req, &output{s: s}, err)
			}
			if ok && s.delayedContent != nil && req.Blob != "" {
				if _, kept := s.delayed[req.Pathname]; !kept {
					s.light++
					s.lightUnsaid++
					s.unsaid++
					s.pw.line("status=delayed")
					s.pw.flush()
					return s.pw.flushOut()
				}
			}
			if ok {
				if old, ok := s.delayed[req.Pathname]; !ok || old.reported {
					s.unsaid++
				}
				s.delayed[req.Pathname] = &delayedBlob{content: content}
				s.pw.line("status=delayed")
				s.pw.flush()
				return s.pw.flushOut()
			}
		}
		r = s.input.reader()
	}
	o := &output{s: s}
	herr := s.h.Smudge(ctx, req, r, o)
	return s.finish(req, o, herr)
}

// finish ends the response to a clean or smudge request whose content has
// been read, after the Handler returned herr.
func (s *server) finish(req *Request, o *output, herr error) error {
	if herr == nil {
		herr = o.release()
	}
	if err := s.held.reset(); err != nil && herr == nil {
		herr = err
	}
	if herr == nil {
		o.start()
		s.pw.flush() // end of content
		s.pw.flush() // empty status list: success stands
		return s.pw.flushOut()
	}
	if s.pw.err != nil {
		return s.pw.err
	}
	s.report(req, herr)
	if o.started {
		s.pw.flush() // end of the partial content
	}
	if errors.Is(herr, ErrAbort) {
		s.pw.line("status=abort")
	} else {
		s.pw.line("status=error")
	}
	s.pw.flush()
	return s.pw.flushOut()
}

// listAvailable answers list_available_blobs.
func (s *server) listAvailable(ctx context.Context) error {
	var paths, ready []string
	var err error
	if s.unsaid > 0 {
		paths, err = s.delayer.Available(ctx)
	}
	if err != nil {
		paths = nil
	}
	for _, p := range paths {
		b, ok := s.delayed[p]
		if !ok && s.lightUnsaid > 0 {
			// A file whose content was not kept: Serve cannot tell
			// which pathnames those are, and trusts the Delayer.
			s.lightUnsaid--
			s.unsaid--
			ready = append(ready, p)
			continue
		}
		if !ok || b.reported {
			fmt.Fprintf(s.stderr, "%s: list_available_blobs: ignoring %q, which is not waiting to be reported\n", s.prog, p)
			continue
		}
		b.reported = true
		s.unsaid--
		ready = append(ready, p)
	}
	if err == nil && len(paths) > 0 && len(ready) == 0 {
		// An empty list would tell git that nothing remains.
		err = errors.New("the Delayer reported no pathname that is waiting")
	}
	for _, p := range ready {
		s.pw.line("pathname=" + p)
	}
	s.pw.flush()
	switch {
	case err == nil:
		s.pw.line("status=success")
	case errors.Is(err, ErrAbort):
		s.report(&Request{Command: "list_available_blobs"}, err)
		s.pw.line("status=abort")
	default:
		s.report(&Request{Command: "list_available_blobs"}, err)
		s.pw.line("status=error")
	}
	s.pw.flush()
	return s.pw.flushOut()
}

func (s *server) report(req *Request, err error) {
	if req.Pathname == "" {
		fmt.Fprintf(s.stderr, "%s: %s: %v\n", s.prog, req.Command, err)
		return
	}
	fmt.Fprintf(s.stderr, "%s: %s %s: %v\n", s.prog, req.Command, req.Pathname, err)
}

// output is the io.Writer a Handler writes its result to. Until the
// request's content has been read to its end (in.done), writes are held in
// server.held; after that they stream to git, preceded by "status=success"
// and its flush once (started).
type output struct {
	s       *server
	in      *contentReader // nil when the content was read before the call
	started bool
}

// holding reports whether writes must still be held back, and sends what
// was held once they need not.
func (o *output) holding() (bool, error) {
	if o.in != nil && !o.in.done {
		return true, nil
	}
	return false, o.release()
}

// start sends "status=success" and its flush, once.
func (o *output) start() {
	if !o.started {
		o.started = true
		o.s.pw.line("status=success")
		o.s.pw.flush()
	}
}

// release sends the held output, if any.
func (o *output) release() error {
	if o.s.held.empty() {
		return nil
	}
	o.start()
	_, err := o.s.pw.readFrom(o.s.held.reader())
	if err != nil {
		return err
	}
	return o.s.held.reset()
}

// Write implements io.Writer.
func (o *output) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	hold, err := o.holding()
	if err != nil {
		return 0, err
	}
	if hold {
		return o.s.held.Write(p)
	}
	o.start()
	return o.s.pw.data(p)
}

// ReadFrom implements io.ReaderFrom: io.Copy to the output reads straight
// into the packet buffer.
func (o *output) ReadFrom(r io.Reader) (int64, error) {
	hold, err := o.holding()
	if err != nil {
		return 0, err
	}
	if hold {
		return io.Copy(&o.s.held, r)
	}
	o.start()
	return o.s.pw.readFrom(r)
}
