package datadiff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/chunker"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/rangeread"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/hooks/gitrepo"
)

// Options are what Diff reads besides the changes.
type Options struct {
	Repo  *gitrepo.Repo // the blobs of both sides
	Store *store.Store  // the local store: chunk lists, chunk sizes, content
	// Remote, when not nil, is asked for what the local store lacks:
	// chunk lists and the stored sizes of chunks (from its index), and
	// the content of metrics files and of CSV files up to
	// Rows.FetchLimit. With nil only the local store is read, and what
	// it lacks is reported as unknown.
	Remote *remotestore.Store
	// NoRemote says why Remote is nil, for messages ("--no-fetch was
	// given"); empty means "there is no lode remote".
	NoRemote string
	// IsMetrics says whether a path is a metrics file; nil means
	// IsDefaultMetrics.
	IsMetrics func(path string) bool
	Rows      RowsPolicy
}

// RowsPolicy says which CSV files get row counts and headers.
type RowsPolicy struct {
	Off bool // none
	// FetchLimit is the largest CSV whose content, when it is not local,
	// is read from the remote to count its rows; 0 means never. Content
	// that is local (the work tree, or every chunk in the local store)
	// is always read.
	FetchLimit int64
}

// Kind is what a version of a file is.
type Kind int

const (
	KindPlain   Kind = iota // a file git stores as it is
	KindLode                // a lode file
	KindDamaged             // a blob that starts like a pointer but does not parse
)

// Version is one side of a changed file.
type Version struct {
	Kind    Kind
	Size    int64           // the file's size (a lode file's real size)
	Pointer pointer.Pointer // KindLode
	Err     error           // KindDamaged: why the pointer does not parse
	// Blob is the git blob (zero for work-tree content).
	Blob string
	// WorkTree is set for content read from the work tree.
	WorkTree bool

	side Side
	wt   *manifest.Manifest // the chunk list of hashed work-tree content
}

// Status is what happened to a file.
type Status string

const (
	Added    Status = "added"
	Modified Status = "modified"
	Deleted  Status = "deleted"
)

// File is a changed file: a lode file, or a metrics file.
type File struct {
	Path     string
	Status   Status
	Old, New *Version // nil on the side that has no file
	// Metrics is set for a metrics file; MetricChanges are its values
	// that differ, MetricsErr says why a side could not be compared.
	Metrics       bool
	MetricChanges []MetricChange
	MetricsErr    string
	// CSV is set for a lode file whose name ends in .csv.
	CSV *CSVDiff
}

// CSVDiff is the row counts and headers of both sides of a CSV file.
type CSVDiff struct {
	Old, New         *CSVStats // nil when not counted (or no file)
	OldNote, NewNote string    // why a side was not counted
	Schema           *SchemaChange
}

// Cost is what a change adds to the store (see the package doc).
type Cost struct {
	// Known is false when a chunk list could not be read; Unknown says
	// why, and the figures below are then not set.
	Known   bool
	Unknown string
	Chunks  int   // distinct new chunks
	Raw     int64 // their length
	// Stored is their compressed length, when StoredKnown.
	Stored        int64
	StoredKnown   bool
	StoredUnknown string
}

// Result is the outcome of Diff.
type Result struct {
	Files []File // by path
	Cost  Cost
	// Damaged counts the files of which a side is a damaged pointer.
	Damaged int
}

// Diff classifies changes, drops those that are neither lode files nor
// metrics files (or whose content did not change), and computes the
// cost, the metrics and the CSV statistics. Problems with one file (a
// damaged pointer, content that cannot be had, a metrics file that does
// not parse) are reported in its File; errors returned are failures to
// read git or the work tree.
func Diff(ctx context.Context, changes []RawChange, opts Options) (*Result, error) {
	d := &differ{opts: opts}
	if d.opts.IsMetrics == nil {
		d.opts.IsMetrics = IsDefaultMetrics
	}
	defer d.close()
	res := &Result{}
	for _, c := range changes {
		f, keep, err := d.classify(ctx, c)
		if err != nil {
			return nil, err
		}
		if keep {
			res.Files = append(res.Files, f)
		}
	}
	// Hashing work-tree content needs the old side's chunks (to know which
	// chunks are new, and compress only those), so the cost comes first.
	res.Cost = d.cost(ctx, res.Files)
	kept := res.Files[:0]
	for _, f := range res.Files {
		if f.Old != nil && f.New != nil && f.Old.Kind == KindLode && f.New.Kind == KindLode && f.Old.Pointer == f.New.Pointer && !f.Metrics {
			continue // work-tree content that hashed to what it was
		}
		kept = append(kept, f)
	}
	res.Files = kept
	for i := range res.Files {
		f := &res.Files[i]
		if f.Old != nil && f.Old.Kind == KindDamaged || f.New != nil && f.New.Kind == KindDamaged {
			res.Damaged++
		}
		if f.Metrics && d.metrics(ctx, f) {
			f.Path = "" // the same content: dropped below
			continue
		}
		if isCSV(f) {
			d.csv(ctx, f)
		}
	}
	kept = res.Files[:0]
	for _, f := range res.Files {
		if f.Path != "" {
			kept = append(kept, f)
		}
	}
	res.Files = kept
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Path < res.Files[j].Path })
	return res, nil
}

type differ struct {
	opts    Options
	synced  bool  // the remote's index is known
	syncErr error // why it is not
	src     *rangeread.Source
	// stored are the compressed lengths of work-tree chunks found new.
	stored map[cas.ID]int64
}

func (d *differ) close() {
	if d.src != nil {
		d.src.Close()
	}
}

// remote returns the remote, synced, or nil and why not.
func (d *differ) remote(ctx context.Context) (*remotestore.Store, error) {
	if d.opts.Remote == nil {
		if d.opts.NoRemote != "" {
			return nil, errors.New(d.opts.NoRemote)
		}
		return nil, errors.New("there is no lode remote")
	}
	if !d.synced && d.syncErr == nil {
		if err := d.opts.Remote.Sync(ctx); err != nil {
			d.syncErr = fmt.Errorf("the lode remote %s cannot be read: %w", d.opts.Remote, err)
		} else {
			d.synced = true
		}
	}
	if d.syncErr != nil {
		return nil, d.syncErr
	}
	return d.opts.Remote, nil
}

func isCSV(f *File) bool {
	if !strings.EqualFold(path.Ext(f.Path), ".csv") {
		return false
	}
	return f.Old != nil && f.Old.Kind == KindLode || f.New != nil && f.New.Kind == KindLode
}

// classify reads both sides of c; keep is false for a change that diff
// does not report.
func (d *differ) classify(ctx context.Context, c RawChange) (File, bool, error) {
	f := File{Path: c.Path, Metrics: d.opts.IsMetrics(c.Path)}
	var err error
	if f.Old, err = d.version(c.Old); err != nil {
		return f, false, err
	}
	if f.New, err = d.version(c.New); err != nil {
		return f, false, err
	}
	switch {
	case f.Old == nil && f.New == nil:
		return f, false, nil
	case f.Old == nil:
		f.Status = Added
	case f.New == nil:
		f.Status = Deleted
	default:
		f.Status = Modified
	}
	lode := func(v *Version) bool { return v != nil && v.Kind != KindPlain }
	if !f.Metrics && !lode(f.Old) && !lode(f.New) {
		return f, false, nil
	}
	return f, true, nil
}

// version classifies one side; nil when it has no file.
func (d *differ) version(s Side) (*Version, error) {
	switch {
	case !s.Blob.IsZero():
		size, head, err := d.opts.Repo.BlobHead(s.Blob, pointer.MaxLen)
		if err != nil {
			return nil, fmt.Errorf("read blob %s: %w", s.Blob, err)
		}
		v := &Version{Kind: KindPlain, Size: size, Blob: s.Blob.String(), side: s}
		if head != nil && int64(len(head)) == size {
			p, perr := pointer.Parse(head)
			switch {
			case perr == nil:
				v.Kind, v.Pointer, v.Size = KindLode, p, p.Size
			case !errors.Is(perr, pointer.ErrNotPointer):
				v.Kind, v.Err = KindDamaged, perr
			}
		}
		return v, nil
	case s.WorkTree != "":
		fi, err := os.Lstat(s.WorkTree)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the work tree: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, nil
		}
		v := &Version{Kind: KindPlain, Size: fi.Size(), WorkTree: true, side: s}
		if fi.Size() <= pointer.MaxLen {
			b, err := os.ReadFile(s.WorkTree)
			if err != nil {
				return nil, fmt.Errorf("read the work tree: %w", err)
			}
			if p, perr := pointer.Parse(b); perr == nil {
				// A file that holds its pointer (not checked out).
				v.Kind, v.Pointer, v.Size = KindLode, p, p.Size
				return v, nil
			}
		}
		if s.Lode && fi.Size() > 0 {
			v.Kind = KindLode // hashed by cost, which sets the pointer
		}
		return v, nil
	}
	return nil, nil
}

// chunkLists returns the chunk list of each lode version, by pointer.
func (d *differ) chunkLists(ctx context.Context, vs []*Version) (map[pointer.Pointer]*manifest.Manifest, error) {
	out := map[pointer.Pointer]*manifest.Manifest{}
	var pending []pointer.Pointer
	for _, v := range vs {
		p := v.Pointer
		if _, ok := out[p]; ok {
			continue
		}
		m, err := filer.Manifest(ctx, d.opts.Store, p)
		if err == nil {
			out[p] = m
			continue
		}
		if !errors.Is(err, cas.ErrNotFound) {
			return nil, fmt.Errorf("the chunk list of %s: %w", p.OID.Short(), err)
		}
		out[p] = nil
		pending = append(pending, p)
	}
	if len(pending) == 0 {
		return out, nil
	}
	rem, err := d.remote(ctx)
	if err != nil {
		return nil, fmt.Errorf("%d chunk lists are not in the local store, and %w", len(pending), err)
	}
	var failed []string
	err = rem.Manifests(ctx, pending, remotestore.ReadOptions{OnFail: func(w remotestore.Want, err error) {
		failed = append(failed, err.Error())
	}}, func(p pointer.Pointer, m *manifest.Manifest, _ *remotestore.Object) error {
		out[p] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read chunk lists from %s: %w", rem, err)
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%d chunk lists could not be read (%s)", len(failed), failed[0])
	}
	return out, nil
}

// cost computes what the new side adds; it also hashes the new side's
// work-tree lode content, setting its pointers.
func (d *differ) cost(ctx context.Context, files []File) Cost {
	var olds, news []*Version
	var hash []*Version
	for i := range files {
		f := &files[i]
		if f.Old != nil && f.Old.Kind == KindLode {
			olds = append(olds, f.Old) // modified or deleted
		}
		if f.New == nil || f.New.Kind != KindLode {
			continue
		}
		if f.New.WorkTree && f.New.Pointer.OID.IsZero() && f.New.Size > 0 {
			hash = append(hash, f.New)
		} else {
			news = append(news, f.New)
		}
	}
	c := Cost{Known: true, StoredKnown: true}
	ref := map[cas.ID]bool{}
	lists, err := d.chunkLists(ctx, olds)
	if err != nil {
		c = Cost{Unknown: err.Error()}
	} else {
		for _, m := range lists {
			for _, ch := range m.Chunks {
				ref[ch.ID] = true
			}
		}
	}
	d.stored = map[cas.ID]int64{}
	var hashErr error
	for _, v := range hash {
		if err := d.hashWorkTree(ctx, v, ref); err != nil && hashErr == nil {
			hashErr = err
		}
	}
	if hashErr != nil {
		return Cost{Unknown: hashErr.Error()}
	}
	if !c.Known {
		return c
	}
	newLists, err := d.chunkLists(ctx, news)
	if err != nil {
		return Cost{Unknown: err.Error()}
	}
	seen := map[cas.ID]bool{}
	count := func(m *manifest.Manifest) {
		for _, ch := range m.Chunks {
			if ref[ch.ID] || seen[ch.ID] {
				continue
			}
			seen[ch.ID] = true
			c.Chunks++
			c.Raw += int64(ch.Len)
			if !c.StoredKnown {
				continue
			}
			n, ok := d.storedLen(ctx, ch.ID)
			if !ok {
				c.StoredKnown = false
				c.StoredUnknown = fmt.Sprintf("chunk %s is in neither the local store nor the remote's index", ch.ID.Short())
				if _, err := d.remote(ctx); err != nil {
					c.StoredUnknown = fmt.Sprintf("chunk %s is not in the local store, and %v", ch.ID.Short(), err)
				}
				continue
			}
			c.Stored += n
		}
	}
	for _, m := range newLists {
		count(m)
	}
	for _, v := range hash {
		count(v.wt)
	}
	if !c.StoredKnown {
		c.Stored = 0
	}
	return c
}

// storedLen is the compressed length of chunk id.
func (d *differ) storedLen(ctx context.Context, id cas.ID) (int64, bool) {
	if e, ok := d.opts.Store.Lookup(id); ok {
		return int64(e.StoredLen), true
	}
	if n, ok := d.stored[id]; ok {
		return n, true
	}
	rem, err := d.remote(ctx)
	if err != nil {
		return 0, false
	}
	if locs := rem.Locate(id); len(locs) > 0 {
		return int64(locs[0].Entry.StoredLen), true
	}
	return 0, false
}

// hashWorkTree cuts and hashes the work-tree content of v as `git add`
// would, storing nothing, and sets its pointer and chunk list. Chunks new
// to ref and not in the local store are compressed to learn their size.
func (d *differ) hashWorkTree(ctx context.Context, v *Version, ref map[cas.ID]bool) error {
	f, err := os.Open(v.side.WorkTree)
	if err != nil {
		return fmt.Errorf("read %s: %w", v.side.WorkTree, err)
	}
	defer f.Close()
	fc := d.opts.Store.Codec().ForFile()
	var scratch []byte
	whole := blake3.New()
	var b manifest.Builder
	ch := chunker.New(f)
	for seq := 0; ; seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk, err := ch.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", v.side.WorkTree, err)
		}
		whole.Write(chunk)
		id := cas.Sum(chunk)
		b.Add(id, len(chunk))
		if ref[id] {
			continue
		}
		if _, ok := d.opts.Store.Lookup(id); ok {
			continue
		}
		if _, ok := d.stored[id]; ok {
			continue
		}
		out, _ := fc.Compress(scratch, chunk, seq)
		if cap(out) > cap(scratch) {
			scratch = out[:0]
		}
		d.stored[id] = int64(len(out))
	}
	var oid cas.ID
	whole.Sum(oid[:0])
	m := b.Finish(oid)
	v.wt = m
	var mid cas.ID
	if len(m.Chunks) > 1 {
		mid = m.ID()
	}
	v.Pointer = pointer.New(oid, m.Size, mid)
	v.Size = m.Size
	return nil
}

// readAll reads the whole content of v, at most limit bytes; fetch allows
// reading lode content from the remote.
func (d *differ) readAll(ctx context.Context, v *Version, limit int64) ([]byte, error) {
	if v.Size > limit {
		return nil, fmt.Errorf("%d bytes, more than %d", v.Size, limit)
	}
	var buf strings.Builder
	w := &limitWriter{w: &buf, n: limit}
	if err := d.read(ctx, v, w, true); err != nil {
		return nil, err
	}
	return []byte(buf.String()), nil
}

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, fmt.Errorf("more than the limit of bytes")
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// local reports whether v's content can be read without the remote.
func (d *differ) local(ctx context.Context, v *Version) bool {
	switch {
	case v.WorkTree && (v.wt != nil || v.Kind == KindPlain):
		return true
	case v.Kind == KindPlain:
		return true
	case v.Kind == KindLode:
		return transfer.Complete(ctx, d.opts.Store, v.Pointer)
	}
	return false
}

// read writes the verified content of v to w.
func (d *differ) read(ctx context.Context, v *Version, w io.Writer, fetch bool) error {
	switch {
	case v.Kind == KindDamaged:
		return fmt.Errorf("damaged pointer: %v", v.Err)
	case v.WorkTree && (v.wt != nil || v.Kind == KindPlain):
		f, err := os.Open(v.side.WorkTree)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	case v.Kind == KindPlain:
		b, err := d.opts.Repo.ReadBlob(v.side.Blob)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	p := v.Pointer
	if transfer.Complete(ctx, d.opts.Store, p) {
		return filer.Smudge(ctx, p, d.opts.Store, w, filer.Options{})
	}
	if !fetch {
		return errors.New("its data is not in the local store")
	}
	rem, err := d.remote(ctx)
	if err != nil {
		return fmt.Errorf("its data is not in the local store, and %w", err)
	}
	if d.src == nil {
		d.src = rangeread.NewSource(d.opts.Store, rem, nil, rangeread.SourceOptions{})
	}
	rf, err := d.src.Open(ctx, p)
	if err != nil {
		return err
	}
	r := rf.NewReader()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < rf.Size(); {
		n, err := r.ReadAt(ctx, buf, off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// metrics compares the values of a metrics file; same reports that both
// sides have the same content (a work-tree file that git would find
// unchanged).
func (d *differ) metrics(ctx context.Context, f *File) (same bool) {
	var raw [2][]byte
	parse := func(v *Version, i int) (map[string]Value, error) {
		if v == nil {
			return map[string]Value{}, nil
		}
		b, err := d.readAll(ctx, v, MaxMetricsSize)
		if err != nil {
			return nil, err
		}
		raw[i] = b
		return ParseMetrics(f.Path, b)
	}
	old, oerr := parse(f.Old, 0)
	new, nerr := parse(f.New, 1)
	if f.Old != nil && f.New != nil && raw[0] != nil && raw[1] != nil && string(raw[0]) == string(raw[1]) {
		return true
	}
	var errs []string
	if oerr != nil {
		errs = append(errs, "old: "+oerr.Error())
	}
	if nerr != nil {
		errs = append(errs, "new: "+nerr.Error())
	}
	f.MetricsErr = strings.Join(errs, "; ")
	if oerr == nil && nerr == nil {
		f.MetricChanges = DiffMetrics(old, new)
	}
	return false
}

func (d *differ) csv(ctx context.Context, f *File) {
	cd := &CSVDiff{}
	f.CSV = cd
	stat := func(v *Version) (*CSVStats, string) {
		switch {
		case v == nil:
			return nil, ""
		case d.opts.Rows.Off:
			return nil, "not counted (--no-rows)"
		case v.Kind == KindDamaged:
			return nil, "damaged pointer"
		}
		fetch := false
		if !d.local(ctx, v) {
			if d.opts.Remote == nil {
				why := d.opts.NoRemote
				if why == "" {
					why = "there is no lode remote"
				}
				return nil, "not counted: its data is not in the local store, and " + why
			}
			if v.Size > d.opts.Rows.FetchLimit {
				return nil, fmt.Sprintf("not counted: its data is not in the local store, and it is larger than the fetch limit (%d bytes)", d.opts.Rows.FetchLimit)
			}
			fetch = true
		}
		c := NewCSVCounter()
		if err := d.read(ctx, v, c, fetch); err != nil {
			return nil, "not counted: " + err.Error()
		}
		st := c.Stats()
		return &st, ""
	}
	cd.Old, cd.OldNote = stat(f.Old)
	cd.New, cd.NewNote = stat(f.New)
	if cd.Old != nil && cd.New != nil && cd.Old.Columns != nil && cd.New.Columns != nil {
		s := CompareColumns(cd.Old.Columns, cd.New.Columns)
		cd.Schema = &s
	}
}
