package servers

import "syscall"

// sysProcAttr puts a detached server in its own session, so that it
// outlives the launcher and its terminal; an attached one is killed when
// the process that started it dies.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
