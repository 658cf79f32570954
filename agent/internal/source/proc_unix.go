//go:build unix

package source

import (
	"os/exec"
	"syscall"
)

// killGroup makes cmd the leader of its own process group and kills the whole
// group on cancel: yt-dlp starts ffmpeg/ffprobe children that must not
// outlive a canceled task.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
