package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lodevcs/lode/hooks/dvc"
	"github.com/lodevcs/lode/hooks/migrate"
)

// dvcFile is a file that a .dvc file tracks.
type dvcFile struct {
	path   string // slash-separated, from the top
	md5    string
	legacy bool
	exec   bool
}

// migrateDVC makes the outputs of .dvc files lode files at the same
// paths, in a new commit: the data comes from the DVC cache (or the work
// tree, where it matches the .dvc file), checked against its md5.
func (a *app) migrateDVC(ctx context.Context, f migrateFlags, args []string) error {
	r, err := a.findRepo(ctx)
	if err != nil {
		return err
	}
	if r.workTree == "" {
		return fmt.Errorf("migrate --from-dvc needs a work tree")
	}
	top := r.workTree
	dvcPaths, err := a.dvcFiles(ctx, r, args)
	if err != nil {
		return err
	}
	if len(dvcPaths) == 0 {
		return fmt.Errorf("no .dvc files in git here: nothing to migrate (outputs of dvc.yaml stages stay DVC's)")
	}
	cache := dvc.Cache{Dir: f.dvcCache}
	if cache.Dir == "" {
		cache.Dir = filepath.Join(top, ".dvc", "cache")
	}
	var files []dvcFile
	var outs []dvc.Out
	var total int64
	for _, dp := range dvcPaths {
		b, err := os.ReadFile(filepath.Join(top, filepath.FromSlash(dp)))
		if err != nil {
			return err
		}
		parsed, err := dvc.Parse(dp, b)
		if err != nil {
			return err
		}
		for _, o := range parsed {
			outs = append(outs, o)
			if !o.Dir {
				files = append(files, dvcFile{path: o.Path, md5: o.MD5, legacy: o.Legacy, exec: o.Exec})
				total += max(o.Size, 0)
				continue
			}
			list, err := cache.Listing(o)
			if err != nil {
				return err
			}
			for _, e := range list {
				files = append(files, dvcFile{path: e.Path, md5: e.MD5, legacy: o.Legacy})
			}
			total += max(o.Size, 0)
		}
	}
	if f.dryRun {
		missing := 0
		for _, df := range files {
			if fh, err := cache.Open(df.md5); err == nil {
				fh.Close()
			} else {
				missing++
			}
		}
		fmt.Fprintf(a.io.Out, ".dvc files        %d\noutputs           %d\nfiles             %d, %s\nnot in the cache  %d\n", len(dvcPaths), len(outs), len(files), humanBytes(total), missing)
		return nil
	}
	out, err := a.git(ctx, top, nil, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(out)) > 0 {
		return fmt.Errorf("the work tree has changes: commit or stash them first (the migration makes a commit)")
	}
	if !a.filterConfigured(ctx, r) {
		return fmt.Errorf("lode's filter is not configured: run 'git lode install' first")
	}
	// Each file's bytes, checked, in the work tree: what is there when it
	// has the recorded md5 (DVC's copies and hard links), else the cache's.
	p := a.progress("migrate")
	for i, df := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := placeDVCFile(ctx, cache, top, df); err != nil {
			return fmt.Errorf("%s: %w\nnothing was committed; files already placed keep their content", df.path, err)
		}
		p.printf("%d of %d files", i+1, len(files))
	}
	p.done()
	// .gitattributes: every output is a lode file.
	var attrs []string
	for _, o := range outs {
		attrs = append(attrs, migrate.TrackLine(o.Path, o.Dir))
	}
	if err := appendLines(filepath.Join(top, ".gitattributes"), attrs); err != nil {
		return err
	}
	// .gitignore: drop the lines DVC added for its outputs.
	changedIgnores, err := dropDVCIgnores(top, outs)
	if err != nil {
		return err
	}
	if _, err := a.git(ctx, top, nil, append([]string{"rm", "-q", "--cached", "--"}, dvcPaths...)...); err != nil {
		return err
	}
	var paths bytes.Buffer
	for _, p := range append([]string{".gitattributes"}, changedIgnores...) {
		paths.WriteString(p)
		paths.WriteByte(0)
	}
	for _, df := range files {
		paths.WriteString(df.path)
		paths.WriteByte(0)
	}
	if _, err := a.gitEnv(ctx, top, []string{"GIT_LITERAL_PATHSPECS=1"}, paths.Bytes(), "add", "-f", "--pathspec-from-file=-", "--pathspec-file-nul"); err != nil {
		return err
	}
	msg := fmt.Sprintf("Move %d file(s) from DVC to lode\n\nThe outputs of %s are lode files now (git lode migrate import --from-dvc).\n", len(files), strings.Join(dvcPaths, ", "))
	if _, err := a.git(ctx, top, nil, "commit", "-q", "-m", msg); err != nil {
		return err
	}
	for _, dp := range dvcPaths {
		os.Remove(filepath.Join(top, filepath.FromSlash(dp)))
	}
	fmt.Fprintf(a.io.Err, "lode: %d file(s) (%s) of %d .dvc file(s) are lode files, in a new commit; dvc.yaml, dvc.lock and the DVC cache are left as they are\n", len(files), humanBytes(total), len(dvcPaths))
	fmt.Fprintf(a.io.Err, "lode: 'git lode push' and 'git push' publish it\n")
	return nil
}

// dvcFiles returns the .dvc files to migrate: args (paths from the
// current directory), or every .dvc file git has.
func (a *app) dvcFiles(ctx context.Context, r *repo, args []string) ([]string, error) {
	spec := []string{":(top)*.dvc"}
	if len(args) > 0 {
		spec = args
		for _, p := range args {
			if !strings.HasSuffix(p, ".dvc") {
				return nil, usageError("%q is not a .dvc file", p)
			}
		}
	}
	out, err := a.git(ctx, "", nil, append([]string{"ls-files", "-z", "--full-name", "--"}, spec...)...)
	if err != nil {
		return nil, err
	}
	var ps []string
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" && strings.HasSuffix(p, ".dvc") && !strings.HasPrefix(p, ".dvc/") {
			ps = append(ps, p)
		}
	}
	if len(args) > 0 && len(ps) < len(args) {
		return nil, usageError("not every .dvc file named is in git (found %d of %d)", len(ps), len(args))
	}
	slices.Sort(ps)
	return slices.Compact(ps), nil
}

// placeDVCFile makes the work-tree file of df hold its checked content.
func placeDVCFile(ctx context.Context, cache dvc.Cache, top string, df dvcFile) error {
	p := filepath.Join(top, filepath.FromSlash(df.path))
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		ck := dvc.NewChecker(f, df.md5, df.legacy)
		_, err = io.Copy(io.Discard, ck)
		f.Close()
		if err != nil {
			return err
		}
		if ck.Check() == nil {
			return nil
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	rc, ck, err := cache.Reader(ctx, df.md5, df.legacy)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".lode-dvc-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := ck.Check(); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if df.exec {
		mode = 0o755
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	os.Remove(p) // a symlink into the cache, or a changed copy
	return os.Rename(tmp.Name(), p)
}

// appendLines appends lines to the file at p, which may not exist.
func appendLines(p string, lines []string) error {
	old, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var b bytes.Buffer
	b.Write(old)
	if len(old) > 0 && old[len(old)-1] != '\n' {
		b.WriteByte('\n')
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return os.WriteFile(p, b.Bytes(), 0o644)
}

// dropDVCIgnores removes, from the .gitignore beside each output, the
// line DVC wrote for it ("/name"); it returns the .gitignore files changed.
func dropDVCIgnores(top string, outs []dvc.Out) ([]string, error) {
	byFile := map[string][]string{}
	for _, o := range outs {
		dir, name := path.Split(o.Path)
		byFile[dir+".gitignore"] = append(byFile[dir+".gitignore"], "/"+name, "/"+name+"/")
	}
	var changed []string
	for gi, drop := range byFile {
		p := filepath.Join(top, filepath.FromSlash(gi))
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var keep []string
		lines := strings.Split(string(b), "\n")
		for _, l := range lines {
			if !slices.Contains(drop, strings.TrimRight(l, "\r")) {
				keep = append(keep, l)
			}
		}
		if len(keep) == len(lines) {
			continue
		}
		if err := os.WriteFile(p, []byte(strings.Join(keep, "\n")), 0o644); err != nil {
			return nil, err
		}
		changed = append(changed, gi)
	}
	slices.Sort(changed)
	return changed, nil
}

// migrateDVCHistory is 'migrate import --from-dvc --rewrite-history':
// in every commit of the history named, the outputs of its .dvc files
// become lode files at their paths (the data from the DVC cache, checked
// against its md5) and the .dvc files go.
func (a *app) migrateDVCHistory(ctx context.Context, f migrateFlags, args []string) error {
	r, err := a.findRepo(ctx)
	if err != nil {
		return err
	}
	for _, arg := range args {
		if strings.HasSuffix(arg, ".dvc") {
			return usageError("%q: with --rewrite-history, name branches, tags or ranges: every .dvc file of their history is migrated", arg)
		}
	}
	revs, isRange, err := a.migrateRevs(ctx, r, f, args)
	if err != nil {
		return err
	}
	cache := dvc.Cache{Dir: f.dvcCache}
	if cache.Dir == "" {
		if r.workTree == "" {
			return usageError("a bare repository has no .dvc/cache: name the DVC cache with --dvc-cache DIR")
		}
		cache.Dir = filepath.Join(r.workTree, ".dvc", "cache")
	}
	d := &migrate.DVC{Cache: cache}
	rw := &migrate.Rewriter{DVC: d}
	o := migrate.Options{Dir: r.dir(), Revs: revs, Range: isRange, Rewriter: rw, DryRun: f.dryRun}
	if f.dryRun {
		d.Look = true
		out, err := migrate.Run(ctx, o)
		if err != nil {
			return fmt.Errorf("read the history: %w", err)
		}
		w := a.io.Out
		fmt.Fprintf(w, "commits            %d\n", out.Stats.Commits)
		fmt.Fprintf(w, ".dvc files         %d version(s) to convert\n", out.DVCFiles)
		fmt.Fprintf(w, "files              %d version(s) to become lode files\n", out.DVCOutFiles)
		fmt.Fprintf(w, "DVC objects        %d in the cache, %s\n", out.DVCObjects, humanBytes(out.DVCBytes))
		fmt.Fprintf(w, "not in the cache   %d", out.DVCMissing)
		if out.DVCMissing > 0 {
			fmt.Fprint(w, " (the import needs them: 'dvc fetch --all-commits' first)")
		}
		fmt.Fprintln(w)
		return nil
	}
	s, flt, err := a.migrationStore(ctx, r)
	if err != nil {
		return err
	}
	defer s.Close()
	d.Clean = func(ctx context.Context, path string, r io.Reader) ([]byte, error) {
		var ptr bytes.Buffer
		if err := flt.Clean(ctx, r, &ptr); err != nil {
			return nil, err
		}
		return ptr.Bytes(), nil
	}
	o.Flush = flt.Flush
	err = a.finishMigration(ctx, r, s, o, nil, func(out *migrate.Outcome) string {
		return fmt.Sprintf("%d .dvc file version(s) became %d lode file version(s) (%d DVC object(s), %s); dvc.yaml, dvc.lock and the DVC cache are left as they are", out.DVCFiles, out.DVCOutFiles, out.DVCObjects, humanBytes(out.DVCBytes))
	})
	if errors.Is(err, dvc.ErrMissing) {
		return fmt.Errorf("%w\nthe DVC cache lacks data that a commit of the history needs: run 'dvc fetch --all-commits' (or 'dvc pull --all-commits'; add --all-branches --all-tags for the other refs) first, or give the cache with --dvc-cache DIR", err)
	}
	return err
}
