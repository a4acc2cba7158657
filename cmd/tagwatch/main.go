// Command tagwatch watches container registries and writes the tags each
// environment should run back into Git. See README.md and docs/.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
)

// Exit codes of DESIGN.md §3.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks errors that exit with status 2 (usage or configuration).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error (exit status 2).
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// globals are the flags every command shares.
type globals struct {
	logFormat string
	logLevel  string
	log       *logrus.Logger
	stderr    io.Writer // logs and errors; os.Stderr unless a test says otherwise
	// liveTest is the registry half of `tagwatch test`: runLiveTest, or a
	// test's stand-in; nil leaves `test` offline (--tags-file only).
	liveTest liveTestFunc
}

func main() {
	gitrepo.UseHomeSSHConfig()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int { return runWith(args, os.Stderr) }

// runWith runs the command line args, logging and reporting errors to stderr.
func runWith(args []string, stderr io.Writer) int {
	g := &globals{stderr: stderr, liveTest: runLiveTest}
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.Execute()
	code := exitCode(err)
	if code == exitOK {
		return code
	}
	if g.log != nil && g.logFormat == "json" {
		// One entry per problem: a log collector shows each on its own,
		// not several packed into one message with newlines.
		for _, p := range problems(err) {
			logProblem(g.log.WithField("exitCode", code), p).Error(p.Error())
		}
	} else {
		// Errors (a config's list of problems) can span lines: print them as
		// they are rather than as one quoted log field.
		fmt.Fprintf(stderr, "tagwatch: %v\n", err)
	}
	return code
}

// problems splits err into the problems it lists (a config's
// config.Errors, errors.Join), depth first; an error that lists none is
// one problem.
func problems(err error) []error {
	var many interface{ Unwrap() []error }
	if !errors.As(err, &many) {
		return []error{err}
	}
	var out []error
	for _, e := range many.Unwrap() {
		out = append(out, problems(e)...)
	}
	return out
}

// logProblem adds where a configuration problem is (file, line, field) to e.
func logProblem(e *logrus.Entry, err error) *logrus.Entry {
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		return e
	}
	f := logrus.Fields{"file": fe.File}
	if fe.Line > 0 {
		f["line"] = fe.Line
	}
	if fe.Field != "" {
		f["field"] = fe.Field
	}
	return e.WithFields(f)
}

// exitCode is the exit status of a command that returned err.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	// cobra reports an unknown subcommand only as text.
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command ") {
		return exitUsage
	}
	return exitFailed
}

// usageArgs wraps every command's argument check so that its errors exit
// with status 2, like every other usage error.
func usageArgs(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		usageArgs(sub)
	}
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "tagwatch",
		Short: "Keep the image tags of GitOps environments up to date from your registries",
		Long: `tagwatch polls container registries for the tags of watched images, picks the
best tag for every environment under that environment's policy, rewrites the
image fields of the environment's files (changing nothing else) and commits
with a machine-readable audit trail.

Start with "tagwatch demo" to see a full promotion on an embedded registry.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch g.logFormat {
			case "text", "json":
			default:
				return usagef("--log-format: %q is not one of text, json", g.logFormat)
			}
			if _, err := logrus.ParseLevel(g.logLevel); err != nil {
				return usagef("--log-level: %v", err)
			}
			g.log = newLogger(g.logFormat, g.logLevel)
			if g.stderr != nil {
				g.log.SetOutput(g.stderr)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(newVersionCmd(), newRunCmd(g), newTestCmd(g), newHistoryCmd(g), newRollbackCmd(g),
		newPromoteCmd(g), newCheckCmd(g), newDemoCmd(g))
	usageArgs(root)
	return root
}

// newLogger builds the one logger of the process; it writes to stderr.
func newLogger(format, level string) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	if format == "json" {
		l.SetFormatter(&logrus.JSONFormatter{})
	} else {
		l.SetFormatter(&logrus.TextFormatter{DisableTimestamp: false, FullTimestamp: true})
	}
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		lvl = logrus.InfoLevel
	}
	l.SetLevel(lvl)
	return l
}
