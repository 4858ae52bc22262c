package cli

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lodevcs/lode/cas/store"
	"github.com/spf13/cobra"
)

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show what lode tracks, what changed, and the local store's size",
		Long: `Shows whether the lode filter is configured, the tracked patterns, the lode
files that are staged or modified (as 'git status' sees them), files that git
holds as plain objects although a pattern tracks them, and the size of the
local store.`,
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
			out := a.io.Out
			if a.filterInstalled(ctx, r) {
				fmt.Fprintln(out, "Filter: installed")
			} else {
				fmt.Fprintln(out, "Filter: NOT installed; run 'git lode install'")
			}

			lines, err := readLines(filepath.Join(r.workTree, ".gitattributes"))
			if err != nil {
				return err
			}
			pats := trackedPatterns(lines)
			if len(pats) == 0 {
				fmt.Fprintln(out, "Tracked patterns: none; add one with 'git lode track \"*.csv\"'")
			} else {
				fmt.Fprintf(out, "Tracked patterns: %s\n", strings.Join(pats, " "))
			}

			changes, err := a.lodeChanges(cmd, r)
			if err != nil {
				return err
			}
			ents, err := a.lodeIndexEntries(ctx, r)
			if err != nil {
				return err
			}
			var plain []string
			for _, e := range ents {
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
			if len(plain) > 0 {
				sort.Strings(plain)
				fmt.Fprintf(out, "Stored as plain git objects although tracked (run 'git add --renormalize .'):\n")
				for _, p := range plain {
					fmt.Fprintf(out, "  %s\n", p)
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

type change struct{ state, path string }

// lodeChanges lists staged and modified files that have filter=lode.
func (a *app) lodeChanges(cmd *cobra.Command, r *repo) ([]change, error) {
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
	lode, err := a.withLodeFilter(ctx, r, paths)
	if err != nil {
		return nil, err
	}
	var res []change
	for _, p := range lode {
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
