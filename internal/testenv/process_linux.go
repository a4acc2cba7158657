package testenv

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill cmd when the thread that started it
// exits. Go's runtime keeps its threads for the life of the process unless
// a goroutine exits while locked to one, which the test harnesses never
// do; Stop remains the normal way to end a server.
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
