//go:build !linux

package testenv

import "os/exec"

// setDeathSignal does nothing outside Linux: Stop ends the server.
func setDeathSignal(*exec.Cmd) {}
