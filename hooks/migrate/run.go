package migrate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sync/errgroup"
)

// Options says what Run rewrites.
type Options struct {
	// Dir is where git runs: the work tree, or the git dir of a bare
	// repository.
	Dir string
	// Revs is what `git fast-export` exports: full ref names
	// (refs/heads/main), --branches, --tags, or ranges (A..refs/heads/x).
	// Every ref it names is rewritten.
	Revs []string
	// Range: Revs exclude some commits, whose rewritten children keep
	// them as parents (--reference-excluded-parents); every commit then
	// lists all its files (--full-tree), so that files no commit of the
	// range changes are converted too.
	Range bool
	// Rewriter does the rewriting (Run sets its Blobs).
	Rewriter *Rewriter
	// DryRun reads the history and converts nothing: no import, no ref
	// changes (Convert is still called: it should only look).
	DryRun bool
	// Flush, if set, is called after the whole history is imported and
	// before any ref moves: it makes the converted data durable.
	Flush func(ctx context.Context) error
}

// Rewritten is a commit and what it became.
type Rewritten struct{ Old, New string }

// RefMove is a ref that a migration moved (backed up under BackupPrefix).
type RefMove struct{ Ref, Old, New string }

// Outcome is what Run did.
type Outcome struct {
	*Result
	Map  []Rewritten // every commit of the stream, in the stream's order
	Refs []RefMove   // refs that moved; the others already pointed there
}

// Run rewrites the history Options names; see the package documentation
// for what changes, when, and what an interruption leaves.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	g := git{dir: o.Dir}
	if err := g.dropTemp(ctx); err != nil {
		return nil, fmt.Errorf("drop the refs of an earlier migration that stopped: %w", err)
	}
	before, err := g.refs(ctx, "")
	if err != nil {
		return nil, err
	}
	res, marks, err := o.stream(ctx, g)
	if err != nil {
		if !o.DryRun {
			_ = g.dropTemp(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	out := &Outcome{Result: res}
	if o.DryRun {
		return out, nil
	}
	fail := func(err error) (*Outcome, error) {
		_ = g.dropTemp(context.WithoutCancel(ctx))
		return nil, err
	}
	for _, c := range res.Commits {
		n, ok := marks[c.Mark]
		if !ok {
			return fail(fmt.Errorf("git fast-import did not write commit %s (mark %s)", c.Original, c.Mark))
		}
		out.Map = append(out.Map, Rewritten{Old: c.Original, New: n})
	}
	if o.Flush != nil {
		if err := o.Flush(ctx); err != nil {
			return fail(fmt.Errorf("store the converted data: %w", err))
		}
	}
	news, err := g.refs(ctx, TempPrefix)
	if err != nil {
		return fail(err)
	}
	moves := map[string]string{}
	for temp, id := range news {
		moves["refs/"+strings.TrimPrefix(temp, TempPrefix)] = id
	}
	for _, t := range res.Tags {
		id, err := g.writeTag(ctx, t, marks)
		if err != nil {
			return fail(err)
		}
		moves["refs/tags/"+t.Name] = id
	}
	var tx strings.Builder
	tx.WriteString("start\n")
	for ref, id := range moves {
		old, ok := before[ref]
		if !ok {
			return fail(fmt.Errorf("git fast-export named %s, which did not exist when the migration started", ref))
		}
		if old == id {
			continue
		}
		out.Refs = append(out.Refs, RefMove{Ref: ref, Old: old, New: id})
		fmt.Fprintf(&tx, "update %s%s %s\n", BackupPrefix, strings.TrimPrefix(ref, "refs/"), old)
		fmt.Fprintf(&tx, "update %s %s %s\n", ref, id, old)
	}
	for temp := range news {
		fmt.Fprintf(&tx, "delete %s\n", temp)
	}
	slices.SortFunc(out.Refs, func(x, y RefMove) int { return strings.Compare(x.Ref, y.Ref) })
	tx.WriteString("prepare\ncommit\n")
	if _, err := g.run(ctx, []byte(tx.String()), "update-ref", "--stdin"); err != nil {
		return fail(fmt.Errorf("move the refs to the rewritten history (nothing was moved; did a ref change while the migration ran?): %w", err))
	}
	return out, nil
}

// stream runs fast-export | Rewriter | fast-import and returns the marks
// fast-import wrote.
func (o Options) stream(ctx context.Context, g git) (*Result, map[string]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blobs, err := g.catFile(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer blobs.Close()
	o.Rewriter.Blobs = blobs

	args := []string{"fast-export", "--no-data", "--show-original-ids", "--reencode=no",
		"--signed-tags=strip", "--tag-of-filtered-object=rewrite", "--use-done-feature"}
	if o.Range {
		// The first commits of the range must list every file, or those
		// that no commit in it changes would keep their Git LFS pointers.
		args = append(args, "--reference-excluded-parents", "--full-tree")
		o.Rewriter.FullTree = true
	}
	args = append(args, o.Revs...)
	exp := g.command(ctx, args...)
	var expErr bytes.Buffer
	exp.Stderr = &expErr
	expOut, err := exp.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}

	var imp interface{ Wait() error }
	var impIn io.WriteCloser = nopCloser{io.Discard}
	var impErr bytes.Buffer
	var marksFile string
	if !o.DryRun {
		f, err := os.CreateTemp("", "lode-migrate-marks-*")
		if err != nil {
			return nil, nil, err
		}
		marksFile = f.Name()
		f.Close()
		defer os.Remove(marksFile)
		c := g.command(ctx, "fast-import", "--quiet", "--done", "--export-marks="+marksFile)
		c.Stderr = &impErr
		if impIn, err = c.StdinPipe(); err != nil {
			return nil, nil, err
		}
		if err := c.Start(); err != nil {
			return nil, nil, fmt.Errorf("git fast-import: %w", err)
		}
		imp = c
	}
	if err := exp.Start(); err != nil {
		cancel()
		if imp != nil {
			imp.Wait()
		}
		return nil, nil, fmt.Errorf("git fast-export: %w", err)
	}

	var res *Result
	var eg errgroup.Group
	eg.Go(func() error {
		r, err := o.Rewriter.Rewrite(ctx, expOut, impIn)
		if err != nil {
			// Stop both: fast-import must not finish a cut stream.
			cancel()
			return err
		}
		res = r
		return impIn.Close()
	})
	rerr := eg.Wait()
	_, _ = io.Copy(io.Discard, expOut)
	xerr := exp.Wait()
	var ierr error
	if imp != nil {
		ierr = imp.Wait()
	}
	switch {
	case rerr != nil && ierr != nil && (errors.Is(rerr, syscall.EPIPE) || errors.Is(rerr, os.ErrClosed)):
		return nil, nil, gitErr(ctx, []string{"fast-import"}, ierr, &impErr)
	case rerr != nil:
		return nil, nil, rerr
	case xerr != nil:
		return nil, nil, gitErr(ctx, args, xerr, &expErr)
	case ierr != nil:
		return nil, nil, gitErr(ctx, []string{"fast-import"}, ierr, &impErr)
	}
	if o.DryRun {
		return res, nil, nil
	}
	marks, err := readMarks(marksFile)
	return res, marks, err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// readMarks reads fast-import's marks file (":N <id>" lines).
func readMarks(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the marks of git fast-import: %w", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mark, id, ok := strings.Cut(sc.Text(), " "); ok {
			m[mark] = id
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the marks of git fast-import: %w", err)
	}
	return m, nil
}

// writeTag writes annotated tag t, pointing at the rewritten commit, and
// returns its id. Signatures were stripped: the tagged commit changed.
func (g git) writeTag(ctx context.Context, t Tag, marks map[string]string) (string, error) {
	target := t.From
	if strings.HasPrefix(target, ":") {
		id, ok := marks[target]
		if !ok {
			return "", fmt.Errorf("tag %s: git fast-import did not write its commit (mark %s)", t.Name, target)
		}
		target = id
	}
	typ, err := g.run(ctx, nil, "cat-file", "-t", target)
	if err != nil {
		return "", fmt.Errorf("tag %s: %w", t.Name, err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "object %s\ntype %s\ntag %s\n", target, strings.TrimSpace(string(typ)), t.Name)
	if t.Tagger != "" {
		fmt.Fprintf(&b, "tagger %s\n", t.Tagger)
	}
	b.WriteByte('\n')
	b.Write(t.Message)
	id, err := g.run(ctx, b.Bytes(), "mktag")
	if err != nil {
		return "", fmt.Errorf("write tag %s: %w", t.Name, err)
	}
	return strings.TrimSpace(string(id)), nil
}
