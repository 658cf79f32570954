// Package buildinfo reports the version a binary was built from. Release
// builds (`make package`) stamp it from `git describe` with
//
//	-ldflags "-X github.com/ytcaption/ytcaption/internal/buildinfo.version=<v>"
//
// other builds fall back to the module version the Go toolchain records.
package buildinfo

import "runtime/debug"

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
