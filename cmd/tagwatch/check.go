package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/preflight"
)

func newCheckCmd(g *globals) *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "check --config FILE [-o text|json]",
		Short: "Check a config without touching the network",
		Long: `check validates a config and everything it refers to that can be checked
without a network: the schema, the policies, the paths, the files it names
(readable, and holding a certificate, a private key, user:pass or a docker
config with an entry for the registry) and the secrets (environment
variables set). It reports every problem of every entry at once, one a line
(-o json: an array), and exits 0 when there is none, 2 otherwise.

What needs the network (credentials accepted, tags, the environments'
folders in the repository) is what "run --once --dry-run" checks.`,
		Example: `  tagwatch check --config tagwatch.yaml
  tagwatch check --config tagwatch.yaml -o json | jq -r '.[] | .field'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("--config is required")
			}
			if output != "text" && output != "json" {
				return usagef("-o: %q is not one of text, json", output)
			}
			probs := checkConfig(cfgPath)
			if err := writeProblems(cmd.OutOrStdout(), output, cfgPath, probs); err != nil {
				return err
			}
			if len(probs) > 0 {
				return usagef("%s: %d problem(s)", cfgPath, len(probs))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "config file (tagwatch.yaml)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output: text or json")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

// checkConfig returns every problem of the config at path: those of the
// file itself, then those of what it refers to.
func checkConfig(path string) []error {
	cfg, err := config.Inspect(path)
	if cfg == nil {
		return problems(err)
	}
	var out []error
	if err != nil {
		out = problems(err)
	} else if _, err := plan.FromConfig(cfg); err != nil {
		out = problems(err)
	}
	// A field whose value is wrong is reported once, by validation.
	bad := map[string]bool{}
	for _, p := range out {
		var fe *config.FieldError
		if errors.As(p, &fe) {
			bad[fe.Field] = true
		}
	}
	for _, p := range preflight.Check(cfg) {
		if !bad[p.Field] {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b error) int { return cmp.Compare(lineOf(a), lineOf(b)) })
	return out
}

// lineOf is the line a problem is at; 0 (first) for a whole-file problem.
func lineOf(err error) int {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return fe.Line
	}
	return 0
}

// problemJSON is one entry of `check -o json`.
type problemJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Problem string `json:"problem"`
}

func writeProblems(w io.Writer, format, file string, probs []error) error {
	if format == "json" {
		out := make([]problemJSON, 0, len(probs))
		for _, p := range probs {
			e := problemJSON{File: file, Problem: p.Error()}
			var fe *config.FieldError
			if errors.As(p, &fe) {
				e = problemJSON{File: fe.File, Line: fe.Line, Field: fe.Field, Problem: fe.Err.Error()}
			}
			out = append(out, e)
		}
		return json.NewEncoder(w).Encode(out)
	}
	for _, p := range probs {
		if _, err := fmt.Fprintln(w, p.Error()); err != nil {
			return err
		}
	}
	if len(probs) == 0 {
		_, err := fmt.Fprintf(w, "%s: no problems found\n", file)
		return err
	}
	return nil
}
