//go:build unix && !linux

package servers

import "syscall"

// sysProcAttr puts a detached server in its own session, so that it
// outlives the launcher and its terminal.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return nil
}
