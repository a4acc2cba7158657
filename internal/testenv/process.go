package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Process is a server program started for tests, its output (stdout and
// stderr) appended to a log file that outlives it.
type Process struct {
	Name    string // the program's base name, for messages
	LogFile string

	cmd      *exec.Cmd
	log      *os.File
	done     chan struct{}
	err      error // of Wait, valid once done is closed
	stopOnce sync.Once
}

// StartProcess starts cmd with its output appended to logFile. The program
// is killed when the process that started it dies (on Linux), so a test
// binary that exits without Stop leaves no server behind.
func StartProcess(cmd *exec.Cmd, logFile string) (*Process, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "$ %s\n", strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = f, f
	setDeathSignal(cmd)
	p := &Process{Name: cmd.Args[0], LogFile: logFile, cmd: cmd, log: f, done: make(chan struct{})}
	if i := strings.LastIndexByte(p.Name, '/'); i >= 0 {
		p.Name = p.Name[i+1:]
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the program has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop kills the program and waits for it to exit. It may be called more
// than once.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
		}
		<-p.done
	})
}

// WaitReady calls ready every 50ms until it returns nil, the program exits
// or ctx ends. The error says which, with ready's last error and the tail
// of the log.
func (p *Process) WaitReady(ctx context.Context, ready func(context.Context) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready (%v); log %s:\n%s", p.Name, p.err, err, p.LogFile, p.Tail(40))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %v); log %s:\n%s", p.Name, ctx.Err(), err, p.LogFile, p.Tail(40))
		case <-tick.C:
		}
	}
}

// Tail returns the last n lines of the log.
func (p *Process) Tail(n int) string { return TailFile(p.LogFile, n) }

// TailFile returns the last n lines of file, or why it cannot.
func TailFile(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", file, err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // after the final newline
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, nil))
}
