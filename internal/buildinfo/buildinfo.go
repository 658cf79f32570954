// Package buildinfo reports the version a binary was built from. Release
// builds (`make package`) stamp it from `git describe` with
//
//	-ldflags "-X github.com/ytcaption/ytcaption/internal/buildinfo.version=<v>"
//
// other builds fall back to the module version the Go toolchain records.
package buildinfo

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set only at link time; nothing assigns it at run time.
var version string

// Version is the version the binary was built from: the stamped one, else
// the Go module version, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Command is the `version` subcommand both binaries share.
func Command() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version this binary was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), Version())
			return err
		},
	}
}
