package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lodevcs/lode/cas/store"
	"github.com/spf13/cobra"
)

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show what lode tracks, what changed, what needs attention, and the local store's size",
		Long: `Shows whether the lode filter is configured, the tracked patterns and the size
rule, the lode files that are staged or modified (as 'git status' sees them),
lode files of the work tree that still hold their pointers (checked out
before lode was set up: run 'git lode pull'), files that git holds as plain
objects although a pattern tracks them, large files stored as plain git
objects in HEAD or staged (at or above the size rule's threshold, or 10 MiB
without one), and the size of the local store.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			if err := r.needWorkTree(); err != nil {
				return err
			}
			cfg, err := a.loadConfig(ctx, r)
			if err != nil {
				return err
			}
			out := a.io.Out
			lines, err := readLines(filepath.Join(r.workTree, ".gitattributes"))
			if err != nil {
				return err
			}
			switch {
			case !a.filterInstalled(ctx, r):
				fmt.Fprintln(out, "Filter: NOT installed; run 'git lode install'")
			case hasSizeRule(lines) && !a.driverInstalled(ctx, r, sizeRuleDriver):
				fmt.Fprintln(out, "Filter: installed, but not filter.lode-above, which the size rule needs; run 'git lode install'")
			default:
				fmt.Fprintln(out, "Filter: installed")
			}

			pats := trackedPatterns(lines)
			if len(pats) == 0 {
				fmt.Fprintln(out, "Tracked patterns: none; add one with 'git lode track \"*.csv\"'")
			} else {
				fmt.Fprintf(out, "Tracked patterns: %s\n", strings.Join(pats, " "))
			}
			if line, err := a.sizeRuleStatus(ctx, r, lines); err != nil {
				return err
			} else if line != "" {
				fmt.Fprintln(out, line)
			}

			limit := cfg.Track.Above
			if limit <= 0 {
				limit = defaultSizeRule
			}
			changes, err := a.lodeChanges(cmd, r, limit)
			if err != nil {
				return err
			}
			all, err := a.lodeIndexEntries(ctx, r)
			if err != nil {
				return err
			}
			// Files the size rule passed through are plain git files.
			var ents []lodeIndexEntry
			var plain []string
			for _, e := range all {
				if e.sizeRule && !e.pointer {
					continue
				}
				ents = append(ents, e)
				if !e.pointer && e.size > 0 {
					plain = append(plain, e.path)
				}
			}
			if len(changes) == 0 {
				fmt.Fprintf(out, "Lode files: %d in the index, none staged or modified\n", len(ents))
			} else {
				fmt.Fprintf(out, "Lode files: %d in the index\n", len(ents))
				for _, c := range changes {
					fmt.Fprintf(out, "  %-10s %s\n", c.state+":", c.path)
				}
			}
			if left := entriesHoldingPointers(r.workTree, ents); len(left) > 0 {
				fmt.Fprintf(out, "Pointers in the work tree instead of content (checked out before lode was set up, or their download failed): run 'git lode pull'\n")
				printSome(out, len(left), func(i int) string { return left[i].path })
			}
			if len(plain) > 0 {
				sort.Strings(plain)
				fmt.Fprintf(out, "Stored as plain git objects although tracked (run 'git add --renormalize .'):\n")
				printSome(out, len(plain), func(i int) string { return plain[i] })
			}
			big, err := a.largePlainBlobs(ctx, r, limit)
			if err != nil {
				return err
			}
			if len(big) > 0 {
				fmt.Fprintf(out, "Large files stored as plain git objects (%s or more):\n", humanBytes(limit))
				printSome(out, len(big), func(i int) string {
					return fmt.Sprintf("%s (%s, %s)", big[i].path, humanBytes(big[i].size), big[i].where)
				})
				if hasSizeRule(lines) {
					fmt.Fprintln(out, "  the filter did not take them (not installed when they were added, or a -filter line): run 'git add --renormalize .'")
				} else {
					fmt.Fprintf(out, "  to keep such files in lode: git lode track --above %s (or a pattern), then git add --renormalize . and commit\n", humanBytes(limit))
				}
			}

			s, err := a.openStore(ctx, r)
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintf(out, "Local store: %s (%d packs, %s)\n", s.Dir(), len(s.Packs()), humanBytes(storeSize(s)))
			return nil
		},
	}
}

// printSome prints the first items of a list, indented, and how many more
// there are.
func printSome(w io.Writer, n int, item func(int) string) {
	const most = 20
	for i := 0; i < n && i < most; i++ {
		fmt.Fprintf(w, "  %s\n", item(i))
	}
	if n > most {
		fmt.Fprintf(w, "  ... and %d more\n", n-most)
	}
}

type change struct{ state, path string }

// lodeChanges lists staged and modified files that have filter=lode, and
// those with filter=lode-above (the size rule) whose work-tree file is at
// least above bytes or whose index entry is a pointer.
func (a *app) lodeChanges(cmd *cobra.Command, r *repo, above int64) ([]change, error) {
	ctx := cmd.Context()
	out, err := a.git(ctx, r.workTree, nil, "status", "--porcelain=v1", "-z", "--untracked-files=all")
	if err != nil {
		return nil, err
	}
	type st struct{ x, y byte }
	states := map[string]st{}
	var paths []string
	recs := bytes.Split(out, []byte{0})
	for i := 0; i < len(recs); i++ {
		rec := recs[i]
		if len(rec) < 4 {
			continue
		}
		x, y, p := rec[0], rec[1], string(rec[3:])
		if x == 'R' || x == 'C' {
			i++ // the source path follows
		}
		states[p] = st{x, y}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return nil, nil
	}
	lode, sizeRule, err := a.lodeAttrs(ctx, r, paths)
	if err != nil {
		return nil, err
	}
	var pointers map[string]bool
	if len(sizeRule) > 0 {
		ents, err := a.lodeIndexEntries(ctx, r)
		if err != nil {
			return nil, err
		}
		pointers = map[string]bool{}
		for _, e := range ents {
			pointers[e.path] = e.pointer
		}
	}
	var res []change
	for _, p := range lode {
		if sizeRule[p] && !pointers[p] {
			fi, err := os.Lstat(filepath.Join(r.workTree, filepath.FromSlash(p)))
			if err != nil || fi.Size() < above {
				continue
			}
		}
		s := states[p]
		switch {
		case s.x == '?':
			res = append(res, change{"untracked", p})
			continue
		case s.x != ' ':
			res = append(res, change{"staged", p})
		}
		if s.y != ' ' {
			if s.y == 'D' {
				res = append(res, change{"deleted", p})
			} else {
				res = append(res, change{"modified", p})
			}
		}
	}
	return res, nil
}

// storeSize sums the pack sizes of s.
func storeSize(s *store.Store) int64 {
	var n int64
	for _, p := range s.Packs() {
		n += p.Size
	}
	return n
}
