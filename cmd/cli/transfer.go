package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/lodevcs/lode/remote"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// transferProgress returns a Progress callback drawing a bar on stderr when
// it is a terminal, and nil otherwise (the summary line is printed anyway).
func (a *app) transferProgress(desc string) (func(transfer.Progress), func()) {
	f, ok := a.io.Err.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || a.getenv("LODE_NO_PROGRESS") != "" {
		return nil, func() {}
	}
	var mu sync.Mutex // guards bar
	var bar *progressbar.ProgressBar
	update := func(p transfer.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil {
			bar = progressbar.NewOptions64(p.Total,
				progressbar.OptionSetWriter(f),
				progressbar.OptionSetDescription(desc),
				progressbar.OptionShowBytes(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		if p.Total > bar.GetMax64() {
			bar.ChangeMax64(p.Total)
		}
		_ = bar.Set64(p.Done)
	}
	finish := func() {
		mu.Lock()
		defer mu.Unlock()
		if bar != nil {
			_ = bar.Finish()
		}
	}
	return update, finish
}

// printStats prints a transfer's one-line summary on stderr.
func (a *app) printStats(verb string, st transfer.Stats, where string) {
	if st.Files == 0 {
		fmt.Fprintf(a.io.Err, "lode: nothing to %s (%d file(s) already there)\n", verb, st.FilesPresent)
		return
	}
	packs := ""
	if st.Packs > 0 {
		packs = fmt.Sprintf(" in %d pack(s)", st.Packs)
	}
	fmt.Fprintf(a.io.Err, "lode: %sed %d file(s) %s %s: %d chunk(s), %s%s, %d request(s)\n", verb, st.Files, map[string]string{"push": "to", "fetch": "from"}[verb], where, st.Chunks, humanBytes(st.Bytes), packs, st.Requests)
}

// pathFilter selects paths by --include and --exclude patterns, written
// as users write paths and globs (see newPathFilter), and counts what each
// pattern matched, so that one that matches nothing can be reported. It is
// used by one goroutine.
type pathFilter struct {
	include, exclude []*pathPattern
}

// pathPattern is one --include or --exclude pattern.
type pathPattern struct {
	flag     string   // "--include" or "--exclude", for messages
	text     string   // as given
	segs     []string // glob per path segment; "**" is any number of segments; nil matches everything
	anchored bool     // it names a path from the top, not a name at any depth
	dirOnly  bool     // it ended in "/": it matches directories only
	hits     int      // paths it matched
}

// newPathFilter compiles --include and --exclude patterns. A pattern is a
// path relative to the top of the work tree, with globs (*, ?, [...]) in
// its segments and "**" for any number of directories; "./" and "/" in
// front and a "/" at the end are allowed, as users type them. A pattern
// that matches a directory matches everything under it ("data",
// "./data/img/", "data/*"); one without a slash other than at its end
// matches a file or directory name at any depth ("*.csv", "img", "data/"),
// like .gitignore. A bad glob is a usage error.
func newPathFilter(include, exclude []string) (*pathFilter, error) {
	f := &pathFilter{}
	for _, l := range []struct {
		flag string
		in   []string
		out  *[]*pathPattern
	}{{"--include", include, &f.include}, {"--exclude", exclude, &f.exclude}} {
		for _, text := range l.in {
			pp, err := compilePattern(l.flag, text)
			if err != nil {
				return nil, err
			}
			if pp != nil {
				*l.out = append(*l.out, pp)
			}
		}
	}
	return f, nil
}

func compilePattern(flag, text string) (*pathPattern, error) {
	g := strings.TrimSpace(text)
	if g == "" {
		return nil, nil
	}
	pp := &pathPattern{flag: flag, text: text}
	for strings.HasPrefix(g, "./") {
		g = strings.TrimLeft(g[2:], "/")
		pp.anchored = true
	}
	if strings.HasPrefix(g, "/") {
		g = strings.TrimLeft(g, "/")
		pp.anchored = true
	}
	if strings.HasSuffix(g, "/") {
		g = strings.TrimRight(g, "/")
		pp.dirOnly = true
	}
	if g == "" || g == "." {
		return pp, nil // the whole work tree
	}
	g = path.Clean(g)
	if strings.HasPrefix(g, "../") || g == ".." {
		return nil, usageError("%s %q: patterns are paths inside the work tree, from its top", flag, text)
	}
	if strings.Contains(g, "/") {
		pp.anchored = true
	}
	pp.segs = strings.Split(g, "/")
	for _, s := range pp.segs {
		if _, err := path.Match(s, s); err != nil {
			return nil, usageError("%s %q: bad pattern: %v", flag, text, err)
		}
	}
	return pp, nil
}

// match reports whether f selects p (slash-separated, from the top of the
// work tree), and counts which patterns matched it.
func (f *pathFilter) match(p string) bool {
	if f == nil {
		return true
	}
	segs := strings.Split(p, "/")
	in := len(f.include) == 0
	for _, pp := range f.include {
		if pp.matches(segs) {
			pp.hits++
			in = true
		}
	}
	out := false
	for _, pp := range f.exclude {
		if pp.matches(segs) {
			pp.hits++
			out = true
		}
	}
	return in && !out
}

// warnUnmatched warns about every pattern that has matched nothing; what
// names what was looked through ("lode file in HEAD").
func (f *pathFilter) warnUnmatched(w io.Writer, what string) {
	if f == nil {
		return
	}
	for _, pp := range append(slices.Clone(f.include), f.exclude...) {
		if pp.hits == 0 {
			fmt.Fprintf(w, "git-lode: warning: %s %q matches no %s\n", pp.flag, pp.text, what)
		}
	}
}

// matches reports whether p, or a directory p is in, matches pp.
func (pp *pathPattern) matches(segs []string) bool {
	if pp.segs == nil {
		return true
	}
	if !pp.anchored { // a name at any depth
		for i, s := range segs {
			if pp.dirOnly && i == len(segs)-1 {
				break
			}
			if ok, _ := path.Match(pp.segs[0], s); ok {
				return true
			}
		}
		return false
	}
	for k := 1; k <= len(segs); k++ {
		if k == len(segs) && pp.dirOnly {
			break
		}
		if matchSegs(pp.segs, segs[:k]) {
			return true
		}
	}
	return false
}

// matchSegs matches path segments against glob segments, where "**"
// matches any number of segments.
func matchSegs(globs, segs []string) bool {
	for len(globs) > 0 {
		if globs[0] == "**" {
			for i := 0; i <= len(segs); i++ {
				if matchSegs(globs[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(globs[0], segs[0]); !ok {
			return false
		}
		globs, segs = globs[1:], segs[1:]
	}
	return len(segs) == 0
}

// pointersAt lists the pointers in the trees of revs that f selects, with
// their paths (a path in several revs is listed once per rev).
func (a *app) pointersAt(ctx context.Context, r *repo, revs []string, f *pathFilter) ([]pointer.Pointer, []string, error) {
	var ptrs []pointer.Pointer
	var paths []string
	for _, rev := range revs {
		gr, commit, err := a.openRev(r, rev)
		if err != nil {
			return nil, nil, err
		}
		err = gr.Pointers(ctx, commit, func(e gitrepo.Entry) error {
			if e.Err == nil && f.match(e.Path) {
				ptrs = append(ptrs, e.Pointer)
				paths = append(paths, e.Path)
			}
			return nil
		})
		gr.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	return ptrs, paths, nil
}

// reachablePointers lists the distinct pointers in the history of include
// that is not in the history of exclude.
func (a *app) reachablePointers(ctx context.Context, r *repo, include, exclude []plumbing.Hash) ([]pointer.Pointer, error) {
	dir := r.workTree
	if dir == "" {
		dir = r.gitDir
	}
	gr, err := gitrepo.Open(dir)
	if err != nil {
		return nil, err
	}
	defer gr.Close()
	var ptrs []pointer.Pointer
	err = gr.ReachablePointers(ctx, include, exclude, func(commit plumbing.Hash, e gitrepo.Entry) error {
		if e.Err != nil {
			a.warnDamagedPointer(commit, e)
			return nil
		}
		ptrs = append(ptrs, e.Pointer)
		return nil
	})
	return ptrs, err
}

// warnDamagedPointer says that a blob in a commit claims to be a lode
// pointer and does not parse.
func (a *app) warnDamagedPointer(commit plumbing.Hash, e gitrepo.Entry) {
	fmt.Fprintf(a.io.Err, "git-lode: warning: %s in commit %s is a damaged lode pointer (%v); it is pushed as it is\n", e.Path, commit.String()[:12], e.Err)
}

// A fetch goes in batches of at most this many files and bytes of files,
// so that what it holds (chunk lists, the chunks wanted) is bounded however
// many files it gets; reads are coalesced within a batch.
const (
	fetchBatchFiles = 16384
	fetchBatchBytes = 4 << 30
)

// fetchFiles downloads into st what it lacks of the files ptrs point to,
// batch by batch (opts.Progress sees the whole). It returns the files that
// could not be fetched, with why, by oid; err is an error that stopped
// the fetch (the files of the batches before it are whole in st, the rest
// were not tried).
func (a *app) fetchFiles(ctx context.Context, st *store.Store, rem *remotestore.Store, ptrs []pointer.Pointer, opts transfer.Options) (stats transfer.Stats, failed map[cas.ID]error, err error) {
	seen := make(map[cas.ID]struct{}, len(ptrs))
	var batch []pointer.Pointer
	var size int64
	var base, last atomic.Int64 // bytes of the batches done; total of this one
	progress := opts.Progress
	if progress != nil {
		opts.Progress = func(p transfer.Progress) {
			last.Store(p.Total)
			b := base.Load()
			progress(transfer.Progress{Done: b + p.Done, Total: b + p.Total})
		}
	}
	run := func() error {
		if len(batch) == 0 {
			return nil
		}
		last.Store(0)
		bs, err := transfer.Fetch(ctx, st, rem, batch, opts)
		base.Add(last.Load())
		batch, size = batch[:0], 0
		stats.Files += bs.Files
		stats.FilesPresent += bs.FilesPresent
		stats.Chunks += bs.Chunks
		stats.Bytes += bs.Bytes
		stats.Requests += bs.Requests
		var fe *transfer.FetchError
		if errors.As(err, &fe) {
			if failed == nil {
				failed = map[cas.ID]error{}
			}
			for i, p := range fe.Files {
				failed[p.OID] = fe.Errs[i]
			}
			return nil
		}
		return err
	}
	for _, p := range ptrs {
		if p.Size == 0 {
			continue
		}
		if _, ok := seen[p.OID]; ok {
			continue
		}
		seen[p.OID] = struct{}{}
		if len(batch) > 0 && (len(batch) >= fetchBatchFiles || size+p.Size > fetchBatchBytes) {
			if err := run(); err != nil {
				return stats, failed, err
			}
		}
		batch = append(batch, p)
		size += p.Size
	}
	return stats, failed, run()
}

// missingFile is a file whose data could not be had.
type missingFile struct {
	path string
	oid  cas.ID
	err  error
}

// reportMissing names each file that could not be fetched from where,
// once per path and oid, with why, then says what to do about each kind of
// failure. It prints nothing for no files.
func (a *app) reportMissing(where string, files []missingFile) {
	if len(files) == 0 {
		return
	}
	type key struct {
		path string
		oid  cas.ID
	}
	seen := make(map[key]struct{}, len(files))
	var lines []string
	fixes := map[string]bool{}
	var order []string
	for _, m := range files {
		k := key{m.path, m.oid}
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		lines = append(lines, fmt.Sprintf("  %s (oid %s): %s", m.path, m.oid.Short(), missingReason(m.err)))
		if fix := missingFix(m.err); !fixes[fix] {
			fixes[fix] = true
			order = append(order, fix)
		}
	}
	fmt.Fprintf(a.io.Err, "git-lode: %d file(s) could not be fetched from %s:\n", len(lines), where)
	for _, l := range lines {
		fmt.Fprintln(a.io.Err, l)
	}
	for _, fix := range order {
		fmt.Fprintf(a.io.Err, "git-lode: %s\n", fix)
	}
}

// missingReason says in a few words why a file could not be fetched.
func missingReason(err error) string {
	switch failureKind(err) {
	case "missing":
		return "not on the remote"
	case "damaged":
		return fmt.Sprintf("damaged on the remote (%v)", err)
	}
	return err.Error()
}

// failureKind sorts why a file could not be fetched: "missing" (the
// remote has no copy), "damaged" (no intact copy), or "error".
func failureKind(err error) string {
	switch {
	case errors.Is(err, transfer.ErrRemoteMissing):
		return "missing"
	case errors.Is(err, cas.ErrCorrupt):
		return "damaged"
	}
	return "error"
}

// missingFix says what makes a file that could not be fetched available.
func missingFix(err error) string { return kindFix(failureKind(err)) }

// kindFix says what makes a file that could not be fetched for a reason
// of kind (failureKind) available.
func kindFix(kind string) string {
	switch kind {
	case "missing":
		return "its data was never pushed: push it from a clone that has it with 'git lode push --all', then run 'git lode pull'"
	case "damaged":
		return "the remote's copy is damaged: run 'git lode push --repair' in a clone that has the file, then 'git lode pull'"
	}
	return "fix the problem, then run 'git lode pull'"
}

// explainTransferError adds what to do to the errors users meet.
func explainTransferError(err error) error {
	switch {
	case errors.Is(err, transfer.ErrLocalMissing):
		return fmt.Errorf("%w\nthe local store lacks data that the commits reference; run 'git lode fetch' from a remote that has it, or 'git lode verify'", err)
	case errors.Is(err, errWorkTreeRemote):
		return fmt.Errorf("%w\nthe git remote is a repository with a work tree: clones read the data from its store, and lode does not write into it, as git refuses pushes to its checked-out branch; these commits need data that store lacks. Push to a bare repository (git init --bare), set [remote] url in .lode.toml, or have its owner fetch from your clone instead (git remote add NAME PATH; git fetch NAME; git lode fetch --remote NAME NAME/BRANCH)", err)
	case errors.Is(err, remote.ErrReadOnly):
		return fmt.Errorf("%w\nthis remote can only be read (http(s) remotes are read-only); push to an s3://, gs:// or folder remote and serve that folder over HTTP for readers", err)
	case errors.Is(err, errNoRemote):
		return err
	}
	return err
}
