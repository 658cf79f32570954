//go:build !unix

package source

import "os/exec"

// killGroup is a no-op where process groups are not available; the default
// exec.CommandContext kill of the direct child applies.
func killGroup(*exec.Cmd) {}
