package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func artifactsCmd(std IO) *cobra.Command {
	cmd := &cobra.Command{Use: "artifacts", Short: "Models and tools pushed to the control plane for agents to fetch"}
	clientFlags(cmd)
	var name, kind, version string
	push := &cobra.Command{
		Use:   "push FILE",
		Short: "Push a model or tool: hash it here, upload it through a presigned URL, and commit it once the server's hash agrees",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != api.ArtifactModel && kind != api.ArtifactTool {
				return fmt.Errorf(`invalid argument --kind %q: use "model" or "tool"`, kind)
			}
			c, err := client(cmd, std)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			sum, size, err := hashFile(f)
			if err != nil {
				return fmt.Errorf("hash %s: %w", args[0], err)
			}
			if name == "" {
				name = filepath.Base(args[0])
			}
			ctx := cmd.Context()
			p, err := c.PushArtifact(ctx, api.ArtifactRequest{Name: name, Kind: kind, Version: version, SHA256: sum, Size: size})
			if err != nil {
				return err
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if err := c.PutPresigned(ctx, p.Upload, f, size); err != nil {
				return err
			}
			a, err := c.CommitArtifact(ctx, p.Artifact.ID)
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), a)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s %s version %s (%d bytes, sha256 %s) as %s\n", a.Kind, a.Name, a.Version, a.Size, a.SHA256, a.ID)
			return nil
		},
	}
	push.Flags().StringVar(&name, "name", "", "artifact name (default: the file's name), e.g. ggml-base.en.bin or yt-dlp")
	push.Flags().StringVar(&kind, "kind", "", "model or tool")
	push.Flags().StringVar(&version, "version", "", "version (default: the first 12 hex digits of the SHA-256); for yt-dlp its release date, e.g. 2025.01.15")
	_ = push.MarkFlagRequired("kind")

	list := &cobra.Command{
		Use: "list", Short: "List committed artifacts, newest version of a name first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, std)
			if err != nil {
				return err
			}
			l, err := c.ListArtifacts(cmd.Context())
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-28s  %-5s  %-24s  %-16s  %12s  %-12s  %s\n", "ID", "KIND", "NAME", "VERSION", "SIZE", "SHA256", "COMMITTED")
			for _, a := range l.Artifacts {
				at := ""
				if a.CommittedAt != nil {
					at = a.CommittedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%-28s  %-5s  %-24s  %-16s  %12d  %-12s  %s\n", a.ID, a.Kind, a.Name, a.Version, a.Size, a.SHA256[:12], at)
			}
			return nil
		},
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete an artifact and its bytes (agents keep cached copies until evicted)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd, std)
			if err != nil {
				return err
			}
			return c.DeleteArtifact(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(push, list, del)
	return cmd
}

// hashFile returns the SHA-256 (hex) and size of what r holds.
func hashFile(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	if n == 0 {
		return "", 0, errors.New("the file is empty")
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
