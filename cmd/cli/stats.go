package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/spf13/cobra"
)

func (a *app) statsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show logical vs stored bytes, chunk count, dedup and compression ratios",
		Long: `Reads the local store's indexes, and the lode files in the history of every
branch and tag, and reports:
  files           distinct file versions in that history whose data is local
  logical bytes   their total size
  stored bytes    size of the pack and index files on disk
  chunks          distinct chunks, their raw and compressed size
  dedup ratio     logical bytes / distinct chunk bytes
  compression     distinct chunk bytes / their compressed size
  prunable        what 'git lode prune' would free now, with the configured
                  retention (prune.recent), by the remote's indexes`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, s, err := a.openRepoStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := store.ComputeStats(ctx, s)
			if err != nil {
				return fmt.Errorf("%w (run 'git lode verify' to find damaged objects)", err)
			}
			// Files of one chunk have no manifest: count what git names.
			if st.Files, st.LogicalBytes, err = a.localHistoryFiles(ctx, r, s); err != nil {
				return err
			}
			// What a prune with the configured retention would free.
			freeable, freeErr := a.prunable(ctx, r, s)
			if asJSON {
				enc := json.NewEncoder(a.io.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{
					"store":              s.Dir(),
					"files":              st.Files,
					"logical_bytes":      st.LogicalBytes,
					"stored_bytes":       st.PackBytes + st.IndexBytes,
					"packs":              st.Packs,
					"chunks":             st.Chunks,
					"chunk_raw_bytes":    st.ChunkRawBytes,
					"chunk_stored_bytes": st.ChunkStoredBytes,
					"dedup_ratio":        st.DedupRatio(),
					"compression_ratio":  st.CompressionRatio(),
					"total_ratio":        st.TotalRatio(),
					"prunable_bytes":     freeable.BytesFreed,
					"prunable_objects":   freeable.ObjectsDropped,
				})
			}
			out := a.io.Out
			fmt.Fprintf(out, "Store:           %s\n", s.Dir())
			fmt.Fprintf(out, "Files:           %d distinct versions\n", st.Files)
			fmt.Fprintf(out, "Logical bytes:   %s (%d)\n", humanBytes(st.LogicalBytes), st.LogicalBytes)
			fmt.Fprintf(out, "Stored bytes:    %s (%d) in %d packs\n", humanBytes(st.PackBytes+st.IndexBytes), st.PackBytes+st.IndexBytes, st.Packs)
			fmt.Fprintf(out, "Chunks:          %d distinct, %s raw, %s compressed\n", st.Chunks, humanBytes(st.ChunkRawBytes), humanBytes(st.ChunkStoredBytes))
			fmt.Fprintf(out, "Dedup ratio:     %.2fx\n", st.DedupRatio())
			fmt.Fprintf(out, "Compression:     %.2fx\n", st.CompressionRatio())
			fmt.Fprintf(out, "Overall:         %.2fx (logical / stored)\n", st.TotalRatio())
			if freeErr != nil {
				fmt.Fprintf(out, "Prunable:        unknown (%v)\n", freeErr)
			} else {
				fmt.Fprintf(out, "Prunable:        %s in %d objects ('git lode prune' frees it)\n", humanBytes(freeable.BytesFreed), freeable.ObjectsDropped)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// localHistoryFiles counts the distinct lode files in the history of every
// branch and tag whose data the store holds whole, and their bytes.
func (a *app) localHistoryFiles(ctx context.Context, r *repo, s *store.Store) (int, int64, error) {
	revs, err := a.allRefs(ctx, r)
	if err != nil || len(revs) == 0 {
		return 0, 0, err
	}
	include, err := a.resolveRevs(ctx, r, revs)
	if err != nil {
		return 0, 0, err
	}
	ptrs, err := a.reachablePointers(ctx, r, include, nil)
	if err != nil {
		return 0, 0, err
	}
	seen := map[cas.ID]bool{}
	files, bytes := 0, int64(0)
	for _, p := range ptrs {
		if seen[p.OID] || p.Size == 0 {
			continue
		}
		seen[p.OID] = true
		if transfer.Complete(ctx, s, p) {
			files++
			bytes += p.Size
		}
	}
	return files, bytes, nil
}
