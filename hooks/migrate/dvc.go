package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/lodevcs/lode/hooks/dvc"
)

// DVC makes the outputs of .dvc files lode files in a rewrite (see the
// package documentation): in each commit, a .dvc file becomes lode
// pointers at its outputs' paths, DVC's .gitignore lines for those
// outputs go, and the root .gitattributes sends them to lode.
type DVC struct {
	// Cache is where the outputs' content is read, checked against the
	// md5 of the .dvc file or listing as it is read.
	Cache dvc.Cache
	// Clean stores the content read from r, the object of the file at
	// path, and returns its lode pointer. It is called once per object
	// and should read r to its end: what it read is checked afterwards,
	// and a mismatch fails the rewrite.
	Clean func(ctx context.Context, path string, r io.Reader) ([]byte, error)
	// Look: objects are only looked for in the cache (a dry run): not
	// read, not stored, Clean is not called; the missing ones are
	// counted in Stats.DVCMissing instead of failing the rewrite.
	Look bool
}

// dvcTree is what the DVC rewrite needs of one commit's original tree:
// it is shared between a commit and its children until one changes it.
type dvcTree struct {
	dvc     map[string]string // .dvc path -> "mode id"
	ignores map[string]string // .gitignore path -> "mode id"
	attr    string            // the root .gitattributes' "mode id", "" if none
}

func (t *dvcTree) clone() *dvcTree {
	return &dvcTree{dvc: maps.Clone(t.dvc), ignores: maps.Clone(t.ignores), attr: t.attr}
}

var emptyTree = &dvcTree{dvc: map[string]string{}, ignores: map[string]string{}}

// dvcState is the DVC rewrite's memory: per commit, a pointer to its
// tree; per distinct .dvc blob, listing and object, what it became.
type dvcState struct {
	trees   map[string]*dvcTree   // commit mark -> its tree
	outs    map[string][]dvc.Out  // .dvc blob id NUL its directory -> its outputs
	lists   map[string][]dvc.File // md5 NUL out path -> the listing's files
	ptrs    map[string][]byte     // object md5 (+"/2" for DVC 2's md5) -> lode pointer
	missing map[string]bool       // with Look: objects the cache lacks

	// The current commit.
	parent *dvcTree
	cur    *dvcTree
	lines  []string // its file changes, held until its end
	reset  bool     // it has a deleteall
}

func newDVCState() *dvcState {
	return &dvcState{trees: map[string]*dvcTree{}, outs: map[string][]dvc.Out{}, lists: map[string][]dvc.File{},
		ptrs: map[string][]byte{}, missing: map[string]bool{}}
}

// IsDVCFile reports whether the file at p (slash-separated, from the top)
// is a .dvc file whose outputs a DVC rewrite converts: it ends in .dvc
// and is not in DVC's own .dvc directory.
func IsDVCFile(p string) bool {
	return strings.HasSuffix(p, ".dvc") && path.Base(p) != ".dvc" && !strings.HasPrefix(p, ".dvc/") && !strings.Contains(p, "/.dvc/")
}

func regular(mode string) bool {
	switch mode {
	case "100644", "100755", "644", "755":
		return true
	}
	return false
}

// dvcCommitStart begins a commit: its tree is empty until its from line
// names its parent.
func (rw *Rewriter) dvcCommitStart() {
	st := rw.dvc
	st.parent, st.cur, st.lines, st.reset = emptyTree, emptyTree, st.lines[:0], false
}

// dvcFrom sets the current commit's parent (its first from line).
func (rw *Rewriter) dvcFrom(from string) error {
	st := rw.dvc
	if !strings.HasPrefix(from, ":") {
		// An excluded parent (a range): the commit lists its whole tree
		// after a deleteall, so nothing is needed of the parent's.
		if !rw.FullTree {
			return fmt.Errorf("fast-export stream: a parent outside the stream (%s) without --full-tree", clip(from))
		}
		return nil
	}
	t, ok := st.trees[from]
	if !ok {
		return fmt.Errorf("fast-export stream: from %s names no commit before it", clip(from))
	}
	st.parent, st.cur = t, t
	return nil
}

// isFileChange reports whether l is a file change of a commit.
func isFileChange(l string) bool {
	return l == "deleteall" || len(l) > 2 && l[1] == ' ' && strings.ContainsRune("MDRCN", rune(l[0]))
}

// edit returns the current tree, made the commit's own first.
func (st *dvcState) edit() *dvcTree {
	if st.cur == st.parent || st.cur == emptyTree {
		st.cur = st.cur.clone()
	}
	return st.cur
}

// dvcLine takes one file change of the current commit: it is held until
// the commit's end (see dvcEnd), and what it changes of the tree noted.
func (rw *Rewriter) dvcLine(l string) error {
	st := rw.dvc
	switch {
	case l == "deleteall":
		st.cur, st.reset = emptyTree.clone(), true
		st.lines = append(st.lines, l)
		return nil
	case strings.HasPrefix(l, "R "), strings.HasPrefix(l, "C "), strings.HasPrefix(l, "N "):
		return fmt.Errorf("fast-export stream: %q: renames, copies and notes are not expected (fast-export runs without -M, -C or notes)", clip(l))
	case strings.HasPrefix(l, "D "):
		p, err := unquotePath(strings.TrimPrefix(l, "D "))
		if err != nil {
			return err
		}
		st.forget(p)
		st.lines = append(st.lines, l)
		return nil
	}
	// M <mode> <dataref> <path>
	parts := strings.SplitN(l, " ", 4)
	if len(parts) != 4 {
		return fmt.Errorf("fast-export stream: bad file change %q", clip(l))
	}
	mode, id, rawPath := parts[1], parts[2], parts[3]
	if id == "inline" || strings.HasPrefix(id, ":") {
		return fmt.Errorf("fast-export stream: %q: a file change without a blob id (fast-export runs with --no-data)", clip(l))
	}
	p, err := unquotePath(rawPath)
	if err != nil {
		return err
	}
	st.forget(p)
	if regular(mode) {
		t := st.edit()
		switch {
		case IsDVCFile(p):
			t.dvc[p] = mode + " " + id
			return nil // the .dvc file is not written: its outputs are
		case path.Base(p) == ".gitignore":
			t.ignores[p] = mode + " " + id
			return nil // written at the end, without DVC's lines
		case p == ".gitattributes":
			t.attr = mode + " " + id
			return nil // written at the end, with lode's lines
		}
	}
	st.lines = append(st.lines, l)
	return nil
}

// forget drops what the tree knew of the file at p.
func (st *dvcState) forget(p string) {
	t := st.cur
	_, a := t.dvc[p]
	_, b := t.ignores[p]
	if a || b || (p == ".gitattributes" && t.attr != "") {
		t = st.edit()
		delete(t.dvc, p)
		delete(t.ignores, p)
		if p == ".gitattributes" {
			t.attr = ""
		}
	}
}

// dvcEnd writes the current commit's file changes: the deletions of the
// outputs of the .dvc files it changes or removes, its other changes as
// they were, the outputs of the .dvc files it adds or changes (lode
// pointers), and the .gitignore and root .gitattributes files whose
// content, or whose outputs, changed.
func (rw *Rewriter) dvcEnd(ctx context.Context, s *streamState, mark string) error {
	st := rw.dvc
	old, cur := st.parent, st.cur
	if st.reset {
		old = emptyTree // fast-import emptied the tree
	}
	commit := ""
	if len(rw.commits) > 0 {
		commit = rw.commits[len(rw.commits)-1].Original
	}
	// The .dvc files the commit adds, changes or removes.
	var changed []string
	for p, v := range cur.dvc {
		if old.dvc[p] != v {
			changed = append(changed, p)
		}
	}
	for p := range old.dvc {
		if _, ok := cur.dvc[p]; !ok {
			changed = append(changed, p)
		}
	}
	slices.Sort(changed)
	outsOf := func(t *dvcTree, p string) ([]dvc.Out, error) {
		v, ok := t.dvc[p]
		if !ok {
			return nil, nil
		}
		return rw.dvcOuts(ctx, commit, p, v)
	}
	// Directories whose .gitignore may need DVC's lines dropped, or back.
	dirs := map[string]bool{}
	for _, p := range changed {
		before, err := outsOf(old, p)
		if err != nil {
			return err
		}
		after, err := outsOf(cur, p)
		if err != nil {
			return err
		}
		for _, o := range slices.Concat(before, after) {
			fmt.Fprintf(s.bw, "D %s\n", quotePath(o.Path))
			dirs[path.Dir(o.Path)] = true
		}
	}
	for _, l := range st.lines {
		s.bw.WriteString(l)
		s.bw.WriteByte('\n')
	}
	for _, p := range changed {
		outs, err := outsOf(cur, p)
		if err != nil {
			return err
		}
		if outs != nil {
			rw.stats.DVCFiles++
		}
		for _, o := range outs {
			if err := rw.dvcWriteOut(ctx, s, commit, p, o); err != nil {
				return err
			}
		}
	}
	// The outputs of the whole tree, by directory, for the ignores and
	// attributes that need writing.
	var all []dvc.Out
	allOuts := func() ([]dvc.Out, error) {
		if all != nil {
			return all, nil
		}
		all = []dvc.Out{}
		for _, p := range slices.Sorted(maps.Keys(cur.dvc)) {
			outs, err := rw.dvcOuts(ctx, commit, p, cur.dvc[p])
			if err != nil {
				return nil, err
			}
			all = append(all, outs...)
		}
		return all, nil
	}
	for _, gi := range slices.Sorted(maps.Keys(cur.ignores)) {
		v := cur.ignores[gi]
		if !st.reset && !dirs[path.Dir(gi)] && old.ignores[gi] == v {
			continue
		}
		outs, err := allOuts()
		if err != nil {
			return err
		}
		if err := rw.dvcWriteIgnore(ctx, s, gi, v, outs); err != nil {
			return err
		}
	}
	if st.reset || len(changed) > 0 || old.attr != cur.attr {
		outs, err := allOuts()
		if err != nil {
			return err
		}
		if err := rw.dvcWriteAttributes(ctx, s, cur.attr, outs); err != nil {
			return err
		}
	}
	st.trees[mark] = cur
	return nil
}

// dvcOuts returns the outputs of the .dvc file p ("mode id" v), parsed
// once per blob and directory (its paths are relative to it).
func (rw *Rewriter) dvcOuts(ctx context.Context, commit, p, v string) ([]dvc.Out, error) {
	st := rw.dvc
	_, id, _ := strings.Cut(v, " ")
	key := id + "\x00" + path.Dir(p)
	if outs, ok := st.outs[key]; ok {
		return outs, nil
	}
	b, err := rw.Blobs.Read(ctx, id, dvc.MaxDVCFile)
	if err == nil {
		var outs []dvc.Out
		if outs, err = dvc.Parse(p, b); err == nil {
			st.outs[key] = outs
			return outs, nil
		}
	}
	return nil, fmt.Errorf("commit %s: %s: %w", commit, p, err)
}

// dvcWriteOut writes the lode files of output o of the .dvc file p.
func (rw *Rewriter) dvcWriteOut(ctx context.Context, s *streamState, commit, p string, o dvc.Out) error {
	st := rw.dvc
	if !o.Dir {
		b, err := rw.dvcObject(ctx, commit, p, o.Path, o.MD5, o.Legacy)
		if err != nil {
			return err
		}
		mode := "100644"
		if o.Exec {
			mode = "100755"
		}
		writeInline(s, mode, quotePath(o.Path), b)
		rw.stats.DVCOutFiles++
		return nil
	}
	key := o.MD5 + "\x00" + o.Path
	files, ok := st.lists[key]
	if !ok {
		var err error
		files, err = rw.DVC.Cache.Listing(o)
		switch {
		case err != nil && rw.DVC.Look && errors.Is(err, dvc.ErrMissing):
			if !st.missing[o.MD5+".dir"] {
				st.missing[o.MD5+".dir"] = true
				rw.stats.DVCMissing++
			}
			return nil
		case err != nil:
			return fmt.Errorf("commit %s: %s (output of %s, md5 %s.dir): %w", commit, o.Path, p, o.MD5, err)
		}
		st.lists[key] = files
	}
	for _, f := range files {
		b, err := rw.dvcObject(ctx, commit, p, f.Path, f.MD5, o.Legacy)
		if err != nil {
			return err
		}
		writeInline(s, "100644", quotePath(f.Path), b)
		rw.stats.DVCOutFiles++
	}
	return nil
}

// dvcObject returns the lode pointer of the DVC object sum, the content
// of the file at fp (an output of the .dvc file p), stored once.
func (rw *Rewriter) dvcObject(ctx context.Context, commit, p, fp, sum string, legacy bool) ([]byte, error) {
	st := rw.dvc
	key := sum
	if legacy {
		key += "/2"
	}
	if b, ok := st.ptrs[key]; ok {
		return b, nil
	}
	where := func(err error) error {
		return fmt.Errorf("commit %s: %s (output of %s, md5 %s): %w", commit, fp, p, sum, err)
	}
	if rw.DVC.Look {
		f, err := rw.DVC.Cache.Open(sum)
		switch {
		case errors.Is(err, dvc.ErrMissing):
			if !st.missing[sum] {
				st.missing[sum] = true
				rw.stats.DVCMissing++
			}
			return nil, nil
		case err != nil:
			return nil, where(err)
		}
		if fi, err := f.Stat(); err == nil {
			rw.stats.DVCBytes += fi.Size()
		}
		f.Close()
		rw.stats.DVCObjects++
		st.ptrs[key] = nil
		return nil, nil
	}
	rc, ck, err := rw.DVC.Cache.Reader(ctx, sum, legacy)
	if err != nil {
		return nil, where(err)
	}
	defer rc.Close()
	cr := &countReader{r: rc}
	b, err := rw.DVC.Clean(ctx, fp, cr)
	if err != nil {
		return nil, where(fmt.Errorf("store it: %w", err))
	}
	if err := ck.Check(); err != nil {
		return nil, where(err)
	}
	rw.stats.DVCObjects++
	rw.stats.DVCBytes += cr.n
	st.ptrs[key] = b
	return b, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// dvcWriteIgnore writes the .gitignore gi ("mode id" v) without the
// lines DVC wrote for outs in its directory ("/name", "/name/"): as it
// was if it has none, deleted if nothing else is left.
func (rw *Rewriter) dvcWriteIgnore(ctx context.Context, s *streamState, gi, v string, outs []dvc.Out) error {
	mode, id, _ := strings.Cut(v, " ")
	dir := path.Dir(gi)
	drop := map[string]bool{}
	for _, o := range outs {
		if path.Dir(o.Path) == dir {
			drop["/"+path.Base(o.Path)], drop["/"+path.Base(o.Path)+"/"] = true, true
		}
	}
	keep, changed := []byte(nil), false
	if len(drop) > 0 {
		size, err := rw.Blobs.Size(ctx, id)
		if err != nil {
			return err
		}
		if size > maxAttributes {
			return fmt.Errorf("%s is %d bytes, more than %d", gi, size, maxAttributes)
		}
		b, err := rw.Blobs.Read(ctx, id, size)
		if err != nil {
			return err
		}
		keep, changed = DropIgnoreLines(b, drop)
	}
	switch {
	case !changed:
		fmt.Fprintf(s.bw, "M %s %s %s\n", mode, id, quotePath(gi))
	case len(strings.TrimSpace(string(keep))) == 0:
		fmt.Fprintf(s.bw, "D %s\n", quotePath(gi))
	default:
		writeInline(s, mode, quotePath(gi), keep)
	}
	return nil
}

// DropIgnoreLines returns the .gitignore b without the lines in drop
// (compared without a trailing CR), and whether any was dropped.
func DropIgnoreLines(b []byte, drop map[string]bool) ([]byte, bool) {
	lines := strings.SplitAfter(string(b), "\n")
	var out strings.Builder
	changed := false
	for _, l := range lines {
		if drop[strings.TrimRight(l, "\r\n")] {
			changed = true
			continue
		}
		out.WriteString(l)
	}
	return []byte(out.String()), changed
}

// dvcWriteAttributes writes the root .gitattributes (its original "mode
// id" v, "" if none) with a line sending each of outs to lode ("/PATH
// filter=lode -text", "/DIR/**" for a directory) after its own, unless
// it has that line already.
func (rw *Rewriter) dvcWriteAttributes(ctx context.Context, s *streamState, v string, outs []dvc.Out) error {
	mode, id, _ := strings.Cut(v, " ")
	if len(outs) == 0 {
		if v == "" {
			s.bw.WriteString("D .gitattributes\n")
		} else {
			fmt.Fprintf(s.bw, "M %s %s .gitattributes\n", mode, id)
		}
		return nil
	}
	var old []byte
	if v != "" {
		size, err := rw.Blobs.Size(ctx, id)
		if err != nil {
			return err
		}
		if size > maxAttributes {
			return fmt.Errorf(".gitattributes is %d bytes, more than %d", size, maxAttributes)
		}
		if old, err = rw.Blobs.Read(ctx, id, size); err != nil {
			return err
		}
	} else {
		mode = "100644"
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(old), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	b := slices.Clone(old)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	for _, o := range outs {
		l := TrackLine(o.Path, o.Dir)
		if !have[l] {
			have[l] = true
			b = append(b, l+"\n"...)
		}
	}
	writeInline(s, mode, ".gitattributes", b)
	return nil
}

// TrackAttrs are the attributes that send a path to lode, as `git lode
// track` writes them.
const TrackAttrs = "filter=lode -text"

// TrackLine is the .gitattributes line that sends the file at p (or,
// with dir, every file under it) to lode.
func TrackLine(p string, dir bool) string {
	pat := "/" + AttrEscape(p)
	if dir {
		pat += "/**"
	}
	return pat + " " + TrackAttrs
}

// AttrEscape escapes what a .gitattributes pattern would read as special
// in a literal path.
func AttrEscape(p string) string {
	var b strings.Builder
	for _, c := range p {
		switch c {
		case '*', '?', '[', '\\', ' ', '#', '!':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// unquotePath reads a path of the stream, C-quoted or not.
func unquotePath(raw string) (string, error) {
	if !strings.HasPrefix(raw, `"`) {
		return raw, nil
	}
	p, err := strconv.Unquote(raw)
	if err != nil {
		return "", fmt.Errorf("fast-export stream: bad quoted path %q", clip(raw))
	}
	return p, nil
}

// quotePath writes p as fast-import reads a path: C-quoted (octal escapes)
// if it starts with a quote or holds a control character, quote or
// backslash.
func quotePath(p string) string {
	plain := !strings.HasPrefix(p, `"`)
	for i := 0; i < len(p) && plain; i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			plain = false
		}
	}
	if plain {
		return p
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
