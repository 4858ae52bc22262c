package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

type fetchFlags struct {
	include, exclude []string
	remote           string
}

func (f *fetchFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVarP(&f.include, "include", "I", nil, "only files under these paths or matching these globs (\"data/img\", \"*.csv\", \"data/**/*.png\"; repeat or separate with commas)")
	cmd.Flags().StringSliceVarP(&f.exclude, "exclude", "X", nil, "skip files under these paths or matching these globs")
	cmd.Flags().StringVar(&f.remote, "remote", "", "git remote whose lode remote to use (default: the branch's remote, or origin)")
}

// patternHelp is the part of fetch's and pull's help about -I and -X.
const patternHelp = `--include and --exclude take paths from the top of the work tree, as you
would type them ("data/img", "./data/img/", "data/*.csv", "data/**/x.bin"):
a pattern that names a directory selects everything under it. As in
.gitignore, one without a slash other than at its end ("*.csv", "img",
"data/") matches a file or directory name at any depth; start it with "./"
to mean the top only. A pattern that matches no lode file is reported.`

func (a *app) fetchCommand() *cobra.Command {
	var f fetchFlags
	cmd := &cobra.Command{
		Use:   "fetch [REV...]",
		Short: "Download the data of the lode files at revisions (default HEAD), without checking out",
		Long: `Downloads into the local store the data of the lode files in the tree of each
REV (default HEAD), as far as --include and --exclude select them. Only what
the local store lacks is downloaded: the files' manifests, then the missing
chunks with ranged reads. Every chunk is verified before it is stored, and
what the local store already holds of these files is read back first: a
damaged copy is dropped and downloaded again.

A file whose data the remote lacks (or holds only damaged) does not stop the
others: fetch gets everything else, then names each such file (path and
oid) with what to do, and exits with status 1.

` + patternHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.fetch(cmd.Context(), args, f)
		},
	}
	f.add(cmd)
	return cmd
}

// fetch downloads the lode files of revs selected by ff.
func (a *app) fetch(ctx context.Context, revs []string, ff fetchFlags) error {
	r, err := a.findRepo(ctx)
	if err != nil {
		return err
	}
	if len(revs) == 0 {
		revs = []string{"HEAD"}
	}
	f, err := newPathFilter(ff.include, ff.exclude)
	if err != nil {
		return err
	}
	ptrs, paths, err := a.pointersAt(ctx, r, revs, f)
	if err != nil {
		return err
	}
	f.warnUnmatched(a.io.Err, "lode file in "+strings.Join(revs, " "))
	if len(ptrs) == 0 {
		fmt.Fprintf(a.io.Err, "lode: nothing to fetch (no lode files selected in %s)\n", strings.Join(revs, " "))
		return nil
	}
	st, err := a.openStore(ctx, r)
	if err != nil {
		return err
	}
	defer st.Close()
	a.tidy(st)
	rem, err := a.openRemote(ctx, r, st, ff.remote)
	if err != nil {
		return err
	}
	defer rem.Close()
	progress, finish := a.transferProgress("lode: downloading")
	// VerifyLocal: what the store already has of these files is read
	// back, so that a damaged copy is replaced rather than reported as
	// "already there".
	stats, failed, err := a.fetchFiles(ctx, st, rem, ptrs, transfer.Options{Progress: progress, VerifyLocal: true})
	finish()
	a.reportRemoteProblems(rem)
	if stats.Files > 0 || (len(failed) == 0 && err == nil) {
		a.printStats("fetch", stats, rem.String())
	}
	var missing []missingFile
	for i, p := range ptrs {
		if ferr, ok := failed[p.OID]; ok {
			missing = append(missing, missingFile{paths[i], p.OID, ferr})
		}
	}
	a.reportMissing(rem.String(), missing)
	if err != nil {
		return fmt.Errorf("download from %s: %w", rem, err)
	}
	if len(missing) > 0 {
		return errSilent
	}
	return nil
}

func (a *app) pullCommand() *cobra.Command {
	var f fetchFlags
	cmd := &cobra.Command{
		Use:   "pull [REV]",
		Short: "Fetch, then write the content of the work tree's lode files that hold only their pointers",
		Long: `Fetches the data of the lode files of REV (default HEAD) and of the files of
the work tree that hold only their pointer (after a clone with
GIT_LODE_SKIP_SMUDGE=1, or a checkout that could not fetch a file's data),
then writes each such file's content in its place, verified as it is
written, and refreshes git's index so that 'git status' shows them
unchanged. A file is replaced only if it holds exactly the pointer that
git's index has for it: files you changed are left alone. Pull says how
many files it wrote.

A file whose data the remote lacks keeps its pointer: pull writes all the
others, then names each such file (path and oid) with what to do, and exits
with status 1.

Pull needs lode's filter configured ('git lode install'): without it git
would take every file pull writes for a modified one, and refuses before
writing anything.

` + patternHelp,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.pull(cmd.Context(), args, f)
		},
	}
	f.add(cmd)
	return cmd
}

// errNoFilter is why pull refuses to run where lode's filter is not
// configured.
var errNoFilter = errors.New("lode's filter is not configured in this repository, so git would see every file pull writes as modified (and 'git add' would put its content into git); run 'git lode install', then 'git lode pull' again")

// pull fetches the data of revs and of the work tree's pointer files, and
// writes the pointer files' content.
func (a *app) pull(ctx context.Context, revs []string, ff fetchFlags) error {
	r, err := a.findRepo(ctx)
	if err != nil {
		return err
	}
	if err := r.needWorkTree(); err != nil {
		return err
	}
	if !a.filterConfigured(ctx, r) {
		return errNoFilter
	}
	f, err := newPathFilter(ff.include, ff.exclude)
	if err != nil {
		return err
	}
	pfs, err := a.pointerFiles(ctx, r, f)
	if err != nil {
		return err
	}
	if len(revs) == 0 {
		revs = []string{"HEAD"}
	}
	ptrs, paths, err := a.pointersAt(ctx, r, revs, f)
	if errors.Is(err, errNoCommits) && len(pfs) > 0 {
		err = nil // a work tree without commits can still hold pointers
	}
	if err != nil {
		return err
	}
	f.warnUnmatched(a.io.Err, "lode file in "+strings.Join(revs, " ")+" or the work tree")
	for _, pf := range pfs {
		ptrs, paths = append(ptrs, pf.p), append(paths, pf.path)
	}
	if len(ptrs) == 0 {
		fmt.Fprintln(a.io.Err, "lode: nothing to pull (no lode files selected)")
		return nil
	}
	st, err := a.openStore(ctx, r)
	if err != nil {
		return err
	}
	defer st.Close()
	a.tidy(st)

	// Fetch what exists; a remote that cannot be opened or read stops the
	// fetch, not the writing of what the store has.
	var failed map[cas.ID]error
	where := "the lode remote"
	rem, fetchErr := a.openRemote(ctx, r, st, ff.remote)
	if fetchErr == nil {
		defer rem.Close()
		where = rem.String()
		progress, finish := a.transferProgress("lode: downloading")
		var stats transfer.Stats
		stats, failed, fetchErr = a.fetchFiles(ctx, st, rem, ptrs, transfer.Options{Progress: progress, VerifyLocal: true})
		finish()
		a.reportRemoteProblems(rem)
		if stats.Files > 0 || (len(failed) == 0 && fetchErr == nil) {
			a.printStats("fetch", stats, where)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	written, werr := a.writePointerFiles(ctx, r, st, pfs, failed)
	if written > 0 {
		fmt.Fprintf(a.io.Err, "lode: checked out %d file(s)\n", written)
	} else if len(pfs) == 0 {
		fmt.Fprintln(a.io.Err, "lode: checked out 0 files (no file of the work tree holds only its pointer)")
	}

	var missing []missingFile
	notFetched := 0
	for i, p := range ptrs {
		if ferr, ok := failed[p.OID]; ok {
			missing = append(missing, missingFile{paths[i], p.OID, ferr})
		} else if fetchErr != nil && !transfer.Complete(ctx, st, p) {
			notFetched++
			missing = append(missing, missingFile{paths[i], p.OID, errNotFetched})
		}
	}
	a.reportMissing(where, missing)
	switch {
	case werr != nil:
		return werr
	case fetchErr != nil && notFetched > 0:
		return fmt.Errorf("download from %s: %w", where, explainTransferError(fetchErr))
	case len(missing) > 0:
		return errSilent
	}
	return nil
}

// errNotFetched is why a file is missing when the fetch stopped early.
var errNotFetched = errors.New("not fetched (see the error below)")

// filterConfigured reports whether git runs lode's clean filter here, as
// 'git update-index --refresh' must to see a written file as unchanged.
func (a *app) filterConfigured(ctx context.Context, r *repo) bool {
	if a.filterInstalled(ctx, r) {
		return true
	}
	out, err := a.git(ctx, r.workTree, nil, "config", "--get", "filter.lode.clean")
	return err == nil && strings.TrimSpace(string(out)) != ""
}

// pointerFile is a file of the work tree that holds exactly the lode
// pointer git's index has for it (stage 0, a regular file, filter=lode).
type pointerFile struct {
	path string // slash-separated, from the top of the work tree
	p    pointer.Pointer
	mode string // of the index entry: "100644" or "100755"
}

// pointerFiles lists the pointer files of the work tree that f selects,
// in index order. It streams git's index and reads only the files of a
// pointer's size, so that its cost is a stat per index entry; it holds a
// pointer and a path per pointer file.
func (a *app) pointerFiles(ctx context.Context, r *repo, f *pathFilter) ([]pointerFile, error) {
	var pfs []pointerFile
	buf := make([]byte, pointer.MaxLen+1)
	err := a.gitStream(ctx, r.workTree, nil, func(out *bufio.Reader) error {
		for {
			rec, err := out.ReadSlice(0)
			if err == io.EOF && len(rec) == 0 {
				return nil
			}
			if err == bufio.ErrBufferFull {
				// A path longer than the buffer: not one git can check out
				// on most systems; read past it.
				for err == bufio.ErrBufferFull {
					_, err = out.ReadSlice(0)
				}
				continue
			}
			if err != nil && err != io.EOF {
				return err
			}
			// "<mode> <blob> <stage>\t<path>\0"
			meta, name, ok := bytes.Cut(bytes.TrimSuffix(rec, []byte{0}), []byte{'\t'})
			if !ok {
				continue
			}
			fields := strings.Fields(string(meta))
			if len(fields) != 3 || fields[2] != "0" || (fields[0] != "100644" && fields[0] != "100755") {
				continue
			}
			p, ok := readPointerFile(filepath.Join(r.workTree, filepath.FromSlash(string(name))), buf, fields[1])
			if !ok || !f.match(string(name)) {
				continue
			}
			pfs = append(pfs, pointerFile{path: string(name), p: p, mode: fields[0]})
		}
	}, "ls-files", "-s", "-z")
	if err != nil {
		return nil, fmt.Errorf("list the work tree's pointer files: %w", err)
	}
	if len(pfs) == 0 {
		return nil, nil
	}
	// Keep those that git filters with lode: for others, the content would
	// never clean back to the pointer.
	keep := make([]bool, len(pfs))
	i := 0
	err = a.gitStream(ctx, r.workTree, func(in io.Writer) error {
		w := bufio.NewWriter(in)
		for _, pf := range pfs {
			w.WriteString(pf.path)
			w.WriteByte(0)
		}
		return w.Flush()
	}, func(out *bufio.Reader) error {
		// Records are "<path>\0filter\0<value>\0", in input order.
		for {
			var rec [3][]byte
			for k := range rec {
				b, err := out.ReadBytes(0)
				if err == io.EOF && len(b) == 0 && k == 0 {
					return nil
				}
				if err != nil {
					return fmt.Errorf("read git check-attr: %w", err)
				}
				rec[k] = b[:len(b)-1]
			}
			if i >= len(pfs) || string(rec[0]) != pfs[i].path {
				return fmt.Errorf("git check-attr answered for %q out of order", rec[0])
			}
			keep[i] = string(rec[2]) == "lode"
			i++
		}
	}, "check-attr", "-z", "--stdin", "filter")
	if err != nil {
		return nil, fmt.Errorf("read the work tree's attributes: %w", err)
	}
	out := pfs[:0]
	for j, pf := range pfs {
		if keep[j] {
			out = append(out, pf)
		}
	}
	return out, nil
}

// readPointerFile reports whether the file at path holds a valid lode
// pointer whose git blob id is blob, and returns it. buf holds at least
// pointer.MaxLen+1 bytes.
func readPointerFile(path string, buf []byte, blob string) (pointer.Pointer, bool) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 || fi.Size() > pointer.MaxLen {
		return pointer.Pointer{}, false
	}
	b, ok := readSmall(path, buf)
	if !ok {
		return pointer.Pointer{}, false
	}
	p, err := pointer.Parse(b)
	if err != nil || (blob != "" && blobID(b, len(blob)) != blob) {
		return pointer.Pointer{}, false
	}
	return p, true
}

// readSmall reads the whole file at path into buf, if it fits.
func readSmall(path string, buf []byte) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, false // larger than buf, or unreadable
	}
	return buf[:n], true
}

// blobID is the git object id of a blob holding b, in hex of hexLen
// digits (40: SHA-1, 64: SHA-256 repositories).
func blobID(b []byte, hexLen int) string {
	var h hash.Hash
	if hexLen == 64 {
		h = sha256.New()
	} else {
		h = sha1.New()
	}
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// writePointerFiles replaces each of pfs whose data st has whole with its
// content, and has git refresh its index. Files in failed, or whose data
// st lacks, are left alone (the caller reports them). A file is written
// into a temporary file in its directory, verified as it is written (every
// chunk, and the whole against the oid), given the pointer file's mode,
// and renamed over the pointer only if that still holds exactly the
// pointer. It returns how many files it wrote, and an error if a file
// could not be written (each is named on stderr) or the index could not
// be refreshed.
func (a *app) writePointerFiles(ctx context.Context, r *repo, st *store.Store, pfs []pointerFile, failed map[cas.ID]error) (int, error) {
	var bad int
	safe := map[string]bool{} // directories checked to be real ones inside the work tree
	buf := make([]byte, pointer.MaxLen+1)
	var wrote, v1 []pointerFile
	for _, pf := range pfs {
		if err := ctx.Err(); err != nil {
			return len(wrote), err
		}
		if _, ok := failed[pf.p.OID]; ok || !transfer.Complete(ctx, st, pf.p) {
			continue
		}
		if pf.p.V1 {
			// Cleaning the content gives a version 2 pointer, not the one
			// the index has: git itself must write these (see below).
			v1 = append(v1, pf)
			continue
		}
		ok, err := writePointerFile(ctx, r.workTree, st, pf, safe, buf)
		if err != nil {
			bad++
			fmt.Fprintf(a.io.Err, "git-lode: error: %s: %v\n", pf.path, err)
			continue
		}
		if ok {
			wrote = append(wrote, pf)
		}
	}
	written := len(wrote)
	if written > 0 {
		if err := a.reindex(ctx, r, wrote); err != nil {
			return written, err
		}
	}
	if len(v1) > 0 {
		n, err := a.checkoutIndex(ctx, r, v1, buf)
		written += n
		if err != nil {
			return written, err
		}
	}
	if bad > 0 {
		return written, fmt.Errorf("%d file(s) could not be written (their pointers are left in place); 'git lode verify' checks the local store", bad)
	}
	return written, nil
}

// writePointerFile writes the content of pf over it (see
// writePointerFiles); false means the file changed meanwhile and was left
// alone.
func writePointerFile(ctx context.Context, root string, st *store.Store, pf pointerFile, safe map[string]bool, buf []byte) (bool, error) {
	full := filepath.Join(root, filepath.FromSlash(pf.path))
	dir := filepath.Dir(full)
	if err := realDir(root, dir, safe); err != nil {
		return false, err
	}
	fi, err := os.Lstat(full)
	if err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(full)+".lode-*")
	if err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := filer.Smudge(ctx, pf.p, st, w, filer.Options{}); err != nil {
		return false, fmt.Errorf("oid %s: %w", pf.p.OID.Short(), err)
	}
	if err := w.Flush(); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	// The user may have changed the file since it was listed.
	if fi, err := os.Lstat(full); err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	if cur, ok := readSmall(full, buf); !ok || !bytes.Equal(cur, pf.p.Encode()) {
		return false, nil
	}
	if err := os.Rename(tmp.Name(), full); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	done = true
	return true, nil
}

// realDir checks that dir and the directories above it up to root are
// directories, not symlinks, as git would have made them: a file is never
// written outside the work tree. Checked directories go into safe.
func realDir(root, dir string, safe map[string]bool) error {
	for d := dir; d != root && !safe[d]; {
		fi, err := os.Lstat(d)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory (a symlink?): not writing through it", d)
		}
		parent := filepath.Dir(d)
		if parent == d || !strings.HasPrefix(d, root) {
			return fmt.Errorf("%s is outside the work tree %s", dir, root)
		}
		d = parent
	}
	for d := dir; d != root && !safe[d]; d = filepath.Dir(d) {
		safe[d] = true
	}
	return nil
}

// reindex has git take the files pull wrote into its index, so that 'git
// status' shows them unchanged: it adds them again (git runs lode's clean
// filter on each, which gives back the pointer the index has, and records
// the file's new size and time; a refresh would not do, as git takes a
// file whose size changed for a modified one without reading it). Then it
// checks that every entry still has its pointer, and puts back any that
// does not (the file then shows as modified), with a warning.
func (a *app) reindex(ctx context.Context, r *repo, wrote []pointerFile) error {
	err := a.gitStream(ctx, r.workTree, func(in io.Writer) error {
		w := bufio.NewWriter(in)
		for _, pf := range wrote {
			w.WriteString(pf.path)
			w.WriteByte(0)
		}
		return w.Flush()
	}, func(out *bufio.Reader) error {
		_, err := io.Copy(io.Discard, out)
		return err
	}, "update-index", "-z", "--stdin")
	if err != nil {
		return fmt.Errorf("update git's index for the files pull wrote ('git status' may show them as modified): %w", err)
	}
	want := make(map[string]*pointerFile, len(wrote))
	for i := range wrote {
		want[wrote[i].path] = &wrote[i]
	}
	var changed []*pointerFile
	hexLen := 40
	err = a.gitStream(ctx, r.workTree, nil, func(out *bufio.Reader) error {
		for {
			rec, err := out.ReadBytes(0)
			if err == io.EOF && len(rec) == 0 {
				return nil
			}
			if err != nil {
				return err
			}
			meta, name, ok := bytes.Cut(bytes.TrimSuffix(rec, []byte{0}), []byte{'\t'})
			pf := want[string(name)]
			if !ok || pf == nil {
				continue
			}
			f := strings.Fields(string(meta))
			if len(f) == 3 {
				hexLen = len(f[1])
			}
			if len(f) != 3 || f[1] != blobID(pf.p.Encode(), hexLen) {
				changed = append(changed, pf)
			}
		}
	}, "ls-files", "-s", "-z")
	if err != nil {
		return fmt.Errorf("check git's index after writing the files: %w", err)
	}
	if len(changed) == 0 {
		return nil
	}
	var info bytes.Buffer
	for i, pf := range changed {
		if i < 10 {
			fmt.Fprintf(a.io.Err, "git-lode: warning: %s: lode's clean filter did not give back its pointer; the index keeps the pointer, and the file shows as modified\n", pf.path)
		}
		fmt.Fprintf(&info, "%s %s\t%s\x00", pf.mode, blobID(pf.p.Encode(), hexLen), pf.path)
	}
	if len(changed) > 10 {
		fmt.Fprintf(a.io.Err, "git-lode: warning: and %d more such file(s)\n", len(changed)-10)
	}
	if _, err := a.git(ctx, r.workTree, info.Bytes(), "update-index", "-z", "--index-info"); err != nil {
		return fmt.Errorf("put back the pointers in git's index: %w", err)
	}
	return nil
}

// checkoutIndex has git write the files of version 1 pointers through
// lode's smudge filter (which verifies them against their oid), since
// their content cleans to a version 2 pointer: git then records the files
// as unchanged without cleaning them. Files that no longer hold their
// pointer are left alone. It returns how many it had git write.
func (a *app) checkoutIndex(ctx context.Context, r *repo, pfs []pointerFile, buf []byte) (int, error) {
	var paths bytes.Buffer
	n := 0
	for _, pf := range pfs {
		full := filepath.Join(r.workTree, filepath.FromSlash(pf.path))
		if fi, err := os.Lstat(full); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if cur, ok := readSmall(full, buf); !ok || !bytes.Equal(cur, pf.p.Encode()) {
			continue
		}
		paths.WriteString(pf.path)
		paths.WriteByte(0)
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := a.gitEnv(ctx, r.workTree, []string{"GIT_LODE_SKIP_SMUDGE=0"}, paths.Bytes(), "checkout-index", "-f", "-z", "--stdin"); err != nil {
		return 0, fmt.Errorf("check out the files of version 1 pointers: %w", err)
	}
	return n, nil
}

// gitStream runs git with args in dir, with stdin written by in (nil for
// none) and stdout read by out, both as git runs. The error names the git
// command and includes its stderr.
func (a *app) gitStream(ctx context.Context, dir string, in func(io.Writer) error, out func(*bufio.Reader) error, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stdin io.WriteCloser
	if in != nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	var g errgroup.Group
	if in != nil {
		g.Go(func() error {
			err := in(stdin)
			if cerr := stdin.Close(); err == nil {
				err = cerr
			}
			return err
		})
	}
	rerr := out(bufio.NewReaderSize(stdout, 64<<10))
	if rerr != nil {
		// Stop git, so that a writer blocked on its stdin returns.
		_ = cmd.Process.Kill()
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := g.Wait()
	err = cmd.Wait()
	switch {
	case rerr != nil:
		return rerr
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	case werr != nil:
		return werr
	}
	return nil
}
