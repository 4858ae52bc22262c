package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/lodevcs/lode/hooks/lfs"
	"github.com/spf13/cobra"
)

func (a *app) lsFilesCommand() *cobra.Command {
	var long, asJSON bool
	cmd := &cobra.Command{
		Use:   "ls-files [REV]",
		Short: "List the lode files at a revision (default HEAD)",
		Long: `Lists every file stored as a lode pointer in the tree of REV (a commit, branch
or tag; default HEAD): its path, size and short oid, and whether its data is
in the local store ("*") or not ("-"). Pointers that are damaged are listed
with the problem. Files that git holds as Git LFS pointers (history from
before 'git lode migrate') are listed too, their oid as "lfs:<sha256>", and
"*" when Git LFS's store (.git/lfs/objects) has their content.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rev := "HEAD"
			if len(args) == 1 {
				rev = args[0]
			}
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			gr, commit, err := a.openRev(r, rev)
			if err != nil {
				if errors.Is(err, errNoCommits) {
					return nil
				}
				return err
			}
			defer gr.Close()
			s, err := a.openStore(ctx, r)
			if err != nil {
				return err
			}
			defer s.Close()

			type row struct {
				Path  string `json:"path"`
				Size  int64  `json:"size"`
				OID   string `json:"oid,omitempty"`
				Local bool   `json:"local"`
				LFS   bool   `json:"lfs,omitempty"`
				Error string `json:"error,omitempty"`
			}
			var rows []row
			err = gr.Pointers(ctx, commit, func(e gitrepo.Entry) error {
				if e.Err != nil {
					rows = append(rows, row{Path: e.Path, Error: e.Err.Error()})
					return nil
				}
				local := transfer.Complete(ctx, s, e.Pointer)
				rows = append(rows, row{Path: e.Path, Size: e.Pointer.Size, OID: e.Pointer.OID.String(), Local: local})
				return nil
			})
			if err != nil {
				return err
			}
			lfsDir := ""
			err = gr.LFSPointers(ctx, commit, func(e gitrepo.LFSEntry) error {
				if lfsDir == "" {
					lfsDir = a.lfsDir(ctx, r)
				}
				rows = append(rows, row{Path: e.Path, Size: e.Pointer.Size, OID: e.Pointer.String(), Local: lfs.Has(lfsDir, e.Pointer), LFS: true})
				return nil
			})
			if err != nil {
				return err
			}
			slices.SortStableFunc(rows, func(x, y row) int { return strings.Compare(x.Path, y.Path) })
			if asJSON {
				enc := json.NewEncoder(a.io.Out)
				enc.SetIndent("", "  ")
				if rows == nil {
					rows = []row{}
				}
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(a.io.Out, 0, 4, 2, ' ', 0)
			for _, x := range rows {
				if x.Error != "" {
					fmt.Fprintf(tw, "%s\t%9s\t%s\t!\n", x.Path, "-", "damaged pointer: "+x.Error)
					continue
				}
				oid := x.OID[:12]
				switch {
				case x.LFS && long:
					oid = "lfs:" + x.OID
				case x.LFS:
					oid = "lfs:" + strings.TrimPrefix(x.OID, "sha256:")[:12]
				case long:
					oid = x.OID
				}
				mark := "-"
				if x.Local {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%9s\t%s\t%s\n", x.Path, humanBytes(x.Size), oid, mark)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show full 64-digit oids")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (path, size, oid, local, lfs, error)")
	return cmd
}

var errNoCommits = errors.New("the repository has no commits yet")

// objectsDir is where gitrepo.Open finds the repository: the work tree,
// or the git directory of a bare repository.
func (r *repo) objectsDir() string {
	if r.workTree != "" {
		return r.workTree
	}
	return r.gitDir
}

// openRev opens the repository with go-git and resolves rev to a commit.
func (a *app) openRev(r *repo, rev string) (*gitrepo.Repo, plumbing.Hash, error) {
	gr, err := gitrepo.Open(r.objectsDir())
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	h, err := gr.Resolve(rev)
	if err != nil {
		gr.Close()
		if rev == "HEAD" && errors.Is(err, gitrepo.ErrUnknownRevision) {
			return nil, plumbing.ZeroHash, errNoCommits
		}
		return nil, plumbing.ZeroHash, fmt.Errorf("%w (try a commit, branch or tag that 'git log' shows)", err)
	}
	return gr, h, nil
}
