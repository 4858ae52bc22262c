package cli

import (
	"encoding/json"
	"fmt"

	"github.com/lodevcs/lode/cas/store"
	"github.com/spf13/cobra"
)

func (a *app) statsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show logical vs stored bytes, chunk count, dedup and compression ratios",
		Long: `Reads the local store's indexes and manifests and reports:
  logical bytes   total size of the distinct file versions stored
  stored bytes    size of the pack and index files on disk
  chunks          distinct chunks, their raw and compressed size
  dedup ratio     logical bytes / distinct chunk bytes
  compression     distinct chunk bytes / their compressed size`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, s, err := a.openRepoStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := store.ComputeStats(ctx, s)
			if err != nil {
				return fmt.Errorf("%w (run 'git lode verify' to find damaged objects)", err)
			}
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
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
