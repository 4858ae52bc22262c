package migrate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/lodevcs/lode/hooks/lfs"
)

// TempPrefix is where the rewritten refs are written while a migration
// runs: refs/X is written as TempPrefix+X.
const TempPrefix = "refs/lode-migrate/new/"

// BackupPrefix is where a migration keeps the refs it moved, as they were:
// refs/X is kept as BackupPrefix+X (like git-filter-repo's backups).
const BackupPrefix = "refs/lode-migrate/original/"

// TempRef is the temporary name of ref during a migration.
func TempRef(ref string) string { return TempPrefix + strings.TrimPrefix(ref, "refs/") }

// maxAttributes bounds the .gitattributes files that are rewritten: a
// larger one is left as it is (and counted in Stats.SkippedAttributes).
const maxAttributes = 4 << 20

// Blobs reads git blobs by id (`git cat-file --batch-command`).
type Blobs interface {
	// Size returns the size of blob id.
	Size(ctx context.Context, id string) (int64, error)
	// Read returns the content of blob id, which is at most max bytes
	// (an error otherwise).
	Read(ctx context.Context, id string, max int64) ([]byte, error)
	// Stream calls fn with a reader of the content of blob id and its
	// size; the reader is valid during the call only.
	Stream(ctx context.Context, id string, fn func(r io.Reader, size int64) error) error
}

// Rewriter rewrites a `git fast-export --no-data --show-original-ids`
// stream into a `git fast-import` stream; see the package documentation.
// It is used by one goroutine, once.
type Rewriter struct {
	Blobs Blobs
	// Convert returns what the file at path, held in git as the Git LFS
	// pointer p, becomes (a lode pointer). It is called once per object.
	Convert func(ctx context.Context, path string, p lfs.Pointer) ([]byte, error)
	// Include, if set, says which paths are converted; others keep
	// their Git LFS pointers (which lode's smudge still reads).
	Include func(path string) bool
	// Above, if more than 0, makes every blob of at least Above bytes at
	// an included path a lode file: ConvertBlob gives its new content
	// (once per blob). Git LFS pointers are then left alone.
	Above       int64
	ConvertBlob func(ctx context.Context, path string, r io.Reader, size int64) ([]byte, error)
	// EditRoot, if set, gives the new content of the files at the top of
	// the tree named in RootNames (old is nil where the file does not
	// exist): in every commit that changes or deletes one, and in every
	// root commit (every commit, with FullTree), so that each commit of
	// the new history has them (the size rule's .gitattributes line and
	// .lode.toml setting, with Above).
	EditRoot  func(name string, old []byte) ([]byte, error)
	RootNames []string
	// FullTree: every commit lists all its files (fast-export
	// --full-tree), so the ids of blobs that stay are remembered too, to
	// look at each once (memory grows with the distinct blobs).
	FullTree bool
	// DVC, if set, makes the outputs of .dvc files lode files (and
	// nothing else: not with Convert, Above or EditRoot).
	DVC *DVC
	// Progress, if set, is called with the counts so far at each commit.
	Progress func(Stats)

	stats    Stats
	commits  []CommitMark
	tags     []Tag
	lfsMemo  map[[32]byte][]byte // LFS oid -> new content
	attMemo  map[string][]byte   // .gitattributes blob -> new content (nil: unchanged)
	stays    map[string]bool     // blobs that stay, with FullTree
	blobMemo map[string][]byte   // blob -> new content, with Above
	hasFrom  bool                // the current commit names its parent
	seenRoot map[string]bool     // RootNames the current commit changes
	dvc      *dvcState           // with DVC
}

// Stats counts what a rewrite found and changed.
type Stats struct {
	Commits           int   // commits in the stream
	LFSFiles          int   // file versions held as Git LFS pointers, converted
	LFSObjects        int   // distinct Git LFS objects converted
	LFSBytes          int64 // their total size
	Attributes        int   // distinct .gitattributes versions rewritten
	SkippedAttributes int   // .gitattributes files too large to rewrite
	Unsupported       int   // Git LFS pointers lode cannot convert (extensions), kept
	Excluded          int   // Git LFS pointers outside Include, kept
	LargeFiles        int   // with Above: file versions converted
	LargeBlobs        int   // with Above: distinct blobs converted
	LargeBytes        int64 // their total size
	DVCFiles          int   // with DVC: .dvc file versions converted
	DVCOutFiles       int   // with DVC: file versions written as lode files
	DVCObjects        int   // with DVC: distinct DVC objects stored (or found, with Look)
	DVCBytes          int64 // their total size
	DVCMissing        int   // with DVC and Look: distinct objects and listings the cache lacks
}

// CommitMark is a commit of the stream: its fast-import mark and its id
// before the rewrite.
type CommitMark struct {
	Mark     string // ":N"
	Original string // 40 hex digits
}

// Tag is an annotated tag held back from the stream.
type Tag struct {
	Name    string
	From    string // ":N" (a mark of the stream) or an object id
	Tagger  string // the tagger line without "tagger ", or ""
	Message []byte
}

// Result is what a rewrite found: its counts, the commits in stream order
// and the annotated tags to write.
type Result struct {
	Stats
	Commits []CommitMark
	Tags    []Tag
}

// Rewrite reads the fast-export stream in and writes the fast-import
// stream to out.
func (rw *Rewriter) Rewrite(ctx context.Context, in io.Reader, out io.Writer) (*Result, error) {
	rw.lfsMemo = map[[32]byte][]byte{}
	rw.attMemo = map[string][]byte{}
	rw.stays = map[string]bool{}
	rw.blobMemo = map[string][]byte{}
	if rw.DVC != nil {
		if rw.Convert != nil || rw.Above > 0 || rw.EditRoot != nil {
			return nil, errors.New("migrate: DVC goes with no other conversion")
		}
		rw.dvc = newDVCState()
	}
	br := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriterSize(out, 64<<10)
	s := &streamState{br: br, bw: bw}
	if err := rw.run(ctx, s); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write the fast-import stream: %w", err)
	}
	return &Result{Stats: rw.stats, Commits: rw.commits, Tags: rw.tags}, nil
}

type streamState struct {
	br *bufio.Reader
	bw *bufio.Writer
}

// line reads one line without its "\n"; io.EOF only at the end of a
// stream that ended after a whole line.
func (s *streamState) line() (string, error) {
	l, err := s.br.ReadString('\n')
	if err == io.EOF && l != "" {
		return "", fmt.Errorf("read the fast-export stream: %w (it ends in the middle of a line)", io.ErrUnexpectedEOF)
	}
	if err != nil {
		if err == io.EOF {
			return "", err
		}
		return "", fmt.Errorf("read the fast-export stream: %w", err)
	}
	return l[:len(l)-1], nil
}

// data reads the payload of a "data N" line.
func (s *streamState) data(l string) ([]byte, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(l, "data "), 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("fast-export stream: bad data line %q", clip(l))
	}
	var b bytes.Buffer
	if _, err := io.CopyN(&b, s.br, n); err != nil {
		return nil, fmt.Errorf("read the fast-export stream: %w", noEOF(err))
	}
	return b.Bytes(), nil
}

// copyData passes the payload of a "data N" line through.
func (s *streamState) copyData(l string) error {
	n, err := strconv.ParseInt(strings.TrimPrefix(l, "data "), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("fast-export stream: bad data line %q", clip(l))
	}
	s.bw.WriteString(l + "\n")
	if _, err := io.CopyN(s.bw, s.br, n); err != nil {
		return fmt.Errorf("copy the fast-export stream: %w", noEOF(err))
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (rw *Rewriter) run(ctx context.Context, s *streamState) error {
	inCommit := false
	mark := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		l, err := s.line()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(l, "data "):
			if err := s.copyData(l); err != nil {
				return err
			}
			continue
		case strings.HasPrefix(l, "commit "):
			ref, err := tempRef(strings.TrimPrefix(l, "commit "))
			if err != nil {
				return err
			}
			inCommit, mark = true, ""
			rw.hasFrom, rw.seenRoot = false, map[string]bool{}
			if rw.dvc != nil {
				rw.dvcCommitStart()
			}
			rw.stats.Commits++
			if rw.Progress != nil {
				rw.Progress(rw.stats)
			}
			l = "commit " + ref
		case strings.HasPrefix(l, "reset "):
			ref, err := tempRef(strings.TrimPrefix(l, "reset "))
			if err != nil {
				return err
			}
			inCommit = false
			l = "reset " + ref
		case strings.HasPrefix(l, "tag "):
			inCommit = false
			if err := rw.holdTag(s, strings.TrimPrefix(l, "tag ")); err != nil {
				return err
			}
			continue
		case strings.HasPrefix(l, "mark :") && inCommit:
			mark = strings.TrimPrefix(l, "mark ")
		case strings.HasPrefix(l, "original-oid ") && inCommit:
			if mark == "" {
				return fmt.Errorf("fast-export stream: a commit without a mark")
			}
			rw.commits = append(rw.commits, CommitMark{Mark: mark, Original: strings.TrimPrefix(l, "original-oid ")})
		case (strings.HasPrefix(l, "from ") || strings.HasPrefix(l, "merge ")) && inCommit:
			if rw.dvc != nil && !rw.hasFrom && strings.HasPrefix(l, "from ") {
				if err := rw.dvcFrom(strings.TrimPrefix(l, "from ")); err != nil {
					return err
				}
			}
			rw.hasFrom = true
		case rw.dvc != nil && inCommit && isFileChange(l):
			if err := rw.dvcLine(l); err != nil {
				return err
			}
			continue
		case strings.HasPrefix(l, "M ") && inCommit:
			done, err := rw.fileModify(ctx, s, l)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		case strings.HasPrefix(l, "D ") && inCommit && rw.EditRoot != nil:
			if name := strings.TrimPrefix(l, "D "); slices.Contains(rw.RootNames, name) {
				rw.seenRoot[name] = true
				if err := rw.writeRoot(s, name, "100644", nil); err != nil {
					return err
				}
				continue
			}
		case l == "" && inCommit:
			inCommit = false
			if rw.dvc != nil {
				if err := rw.dvcEnd(ctx, s, mark); err != nil {
					return err
				}
			}
			if rw.EditRoot != nil && (!rw.hasFrom || rw.FullTree) {
				for _, name := range rw.RootNames {
					if !rw.seenRoot[name] {
						if err := rw.writeRoot(s, name, "100644", nil); err != nil {
							return err
						}
					}
				}
			}
		case l == "":
			inCommit = false
		}
		s.bw.WriteString(l)
		s.bw.WriteByte('\n')
	}
}

// tempRef renames a ref of the stream into TempPrefix.
func tempRef(ref string) (string, error) {
	if !strings.HasPrefix(ref, "refs/") {
		return "", fmt.Errorf("fast-export names %q, not a ref: name branches or tags (refs/...), not HEAD or commits", clip(ref))
	}
	return TempRef(ref), nil
}

// holdTag reads an annotated tag's command, which is not passed on.
func (rw *Rewriter) holdTag(s *streamState, name string) error {
	t := Tag{Name: name}
	for {
		l, err := s.line()
		if err != nil {
			return fmt.Errorf("fast-export stream: tag %s: %w", name, noEOF(err))
		}
		switch {
		case strings.HasPrefix(l, "from "):
			t.From = strings.TrimPrefix(l, "from ")
		case strings.HasPrefix(l, "tagger "):
			t.Tagger = strings.TrimPrefix(l, "tagger ")
		case strings.HasPrefix(l, "data "):
			msg, err := s.data(l)
			if err != nil {
				return err
			}
			t.Message = msg
			if t.From == "" {
				return fmt.Errorf("fast-export stream: tag %s has no from", name)
			}
			rw.tags = append(rw.tags, t)
			// The optional LF that ends the command goes with it.
			if b, err := s.br.Peek(1); err == nil && b[0] == '\n' {
				s.br.Discard(1)
			}
			return nil
		}
	}
}

// fileModify handles an M line; done means it wrote the change itself.
func (rw *Rewriter) fileModify(ctx context.Context, s *streamState, l string) (done bool, err error) {
	// M <mode> <dataref> <path>
	parts := strings.SplitN(l, " ", 4)
	if len(parts) != 4 {
		return false, fmt.Errorf("fast-export stream: bad file change %q", clip(l))
	}
	mode, id, rawPath := parts[1], parts[2], parts[3]
	switch mode {
	case "100644", "100755", "644", "755":
	default:
		return false, nil // symlinks, submodules, trees
	}
	if strings.HasPrefix(id, ":") || id == "inline" {
		return false, nil
	}
	p := rawPath
	if strings.HasPrefix(p, `"`) {
		if p, err = strconv.Unquote(p); err != nil {
			return false, fmt.Errorf("fast-export stream: bad quoted path %q", clip(rawPath))
		}
	}
	if rw.EditRoot != nil && slices.Contains(rw.RootNames, p) {
		rw.seenRoot[p] = true
		size, err := rw.Blobs.Size(ctx, id)
		if err != nil {
			return false, err
		}
		if size > maxAttributes {
			return false, fmt.Errorf("%s is %d bytes, more than %d", p, size, maxAttributes)
		}
		old, err := rw.Blobs.Read(ctx, id, size)
		if err != nil {
			return false, err
		}
		if p == ".gitattributes" && rw.Convert != nil {
			old, _ = RewriteAttributes(old)
		}
		return true, rw.writeRoot(s, p, mode, old)
	}
	if rw.stays[id] {
		return false, nil
	}
	var content []byte
	switch {
	case path.Base(p) == ".gitattributes" && rw.Convert != nil:
		content, err = rw.attributes(ctx, id)
	case rw.Above > 0:
		content, err = rw.largeFile(ctx, id, p)
	case rw.Convert != nil:
		content, err = rw.lfsFile(ctx, id, p)
	}
	if err != nil {
		return false, err
	}
	if content == nil {
		if rw.FullTree && path.Base(p) != ".gitattributes" {
			rw.stays[id] = true
		}
		return false, nil
	}
	writeInline(s, mode, rawPath, content)
	return true, nil
}

func writeInline(s *streamState, mode, rawPath string, content []byte) {
	fmt.Fprintf(s.bw, "M %s inline %s\ndata %d\n", mode, rawPath, len(content))
	s.bw.Write(content)
	s.bw.WriteByte('\n')
}

// writeRoot writes the file name at the top of the tree, as EditRoot
// makes it from old.
func (rw *Rewriter) writeRoot(s *streamState, name, mode string, old []byte) error {
	b, err := rw.EditRoot(name, old)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	writeInline(s, mode, name, b)
	return nil
}

// largeFile returns the new content of a blob of at least Above bytes at
// an included path, or nil if it stays.
func (rw *Rewriter) largeFile(ctx context.Context, id, p string) ([]byte, error) {
	switch path.Base(p) {
	case ".gitattributes", ".gitignore", ".gitmodules", ".lode.toml", ".mailmap":
		return nil, nil // git's own files stay git's
	}
	if rw.Include != nil && !rw.Include(p) {
		return nil, nil
	}
	if b, ok := rw.blobMemo[id]; ok {
		rw.stats.LargeFiles++
		return b, nil
	}
	size, err := rw.Blobs.Size(ctx, id)
	if err != nil {
		return nil, err
	}
	if size < rw.Above {
		return nil, nil
	}
	var nb []byte
	err = rw.Blobs.Stream(ctx, id, func(r io.Reader, size int64) error {
		var err error
		nb, err = rw.ConvertBlob(ctx, p, r, size)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s (blob %s): %w", p, id, err)
	}
	rw.stats.LargeFiles++
	rw.stats.LargeBlobs++
	rw.stats.LargeBytes += size
	rw.blobMemo[id] = nb
	return nb, nil
}

// attributes returns the rewritten content of a .gitattributes blob, or
// nil if it stays.
func (rw *Rewriter) attributes(ctx context.Context, id string) ([]byte, error) {
	if b, ok := rw.attMemo[id]; ok {
		return b, nil
	}
	size, err := rw.Blobs.Size(ctx, id)
	if err != nil {
		return nil, err
	}
	if size > maxAttributes {
		rw.stats.SkippedAttributes++
		rw.attMemo[id] = nil
		return nil, nil
	}
	b, err := rw.Blobs.Read(ctx, id, size)
	if err != nil {
		return nil, err
	}
	nb, changed := RewriteAttributes(b)
	if !changed {
		nb = nil
	} else {
		rw.stats.Attributes++
	}
	rw.attMemo[id] = nb
	return nb, nil
}

// lfsFile returns the new content of a file whose blob is a Git LFS
// pointer, or nil if it stays.
func (rw *Rewriter) lfsFile(ctx context.Context, id, p string) ([]byte, error) {
	size, err := rw.Blobs.Size(ctx, id)
	if err != nil {
		return nil, err
	}
	if size > lfs.MaxLen {
		return nil, nil
	}
	b, err := rw.Blobs.Read(ctx, id, size)
	if err != nil {
		return nil, err
	}
	if !lfs.MightBe(b) {
		return nil, nil
	}
	lp, err := lfs.Parse(b)
	switch {
	case errors.Is(err, lfs.ErrNotPointer), errors.Is(err, lfs.ErrMalformed):
		return nil, nil // a small file that starts like one
	case err != nil:
		rw.stats.Unsupported++
		return nil, nil
	}
	if rw.Include != nil && !rw.Include(p) {
		rw.stats.Excluded++
		return nil, nil
	}
	rw.stats.LFSFiles++
	if nb, ok := rw.lfsMemo[lp.OID]; ok {
		return nb, nil
	}
	nb, err := rw.Convert(ctx, p, lp)
	if err != nil {
		return nil, fmt.Errorf("%s (Git LFS object %s): %w", p, lp, err)
	}
	rw.stats.LFSObjects++
	rw.stats.LFSBytes += lp.Size
	rw.lfsMemo[lp.OID] = nb
	return nb, nil
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
