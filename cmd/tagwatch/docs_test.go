package main

import (
	"encoding"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/tagwatch/tagwatch/config"
)

// readDoc reads a file of docs/.
func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCLIDocsCoverEveryFlag: docs/cli.md documents every flag of every
// command in that command's section (the global flags at the top).
func TestCLIDocsCoverEveryFlag(t *testing.T) {
	doc := readDoc(t, "cli.md")
	sections := map[string]string{}
	parts := regexp.MustCompile("(?m)^## `tagwatch ([a-z]+)`$").Split(doc, -1)
	names := regexp.MustCompile("(?m)^## `tagwatch ([a-z]+)`$").FindAllStringSubmatch(doc, -1)
	sections[""] = parts[0]
	for i, m := range names {
		sections[m[1]] = parts[i+1]
	}
	documented := func(section string, f *pflag.Flag) {
		t.Helper()
		text, ok := sections[section]
		if !ok {
			t.Errorf("docs/cli.md has no section ## `tagwatch %s`", section)
			return
		}
		if !strings.Contains(text, "`--"+f.Name+"`") && !strings.Contains(text, "`--"+f.Name+" ") {
			t.Errorf("docs/cli.md, tagwatch %s: flag --%s is not documented", section, f.Name)
		}
		if f.Shorthand != "" && !strings.Contains(text, "`-"+f.Shorthand+"`") {
			t.Errorf("docs/cli.md, tagwatch %s: shorthand -%s of --%s is not documented", section, f.Shorthand, f.Name)
		}
	}
	root := newRootCmd(&globals{})
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { documented("", f) })
	for _, cmd := range root.Commands() {
		if cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" {
				documented(cmd.Name(), f)
			}
		})
	}
}

// TestConfigDocsCoverEveryField: docs/configuration.md has a section for
// every top-level key and a table row for every field of tagwatch.yaml
// (the row names the field or its dotted path within its section).
func TestConfigDocsCoverEveryField(t *testing.T) {
	doc := readDoc(t, "configuration.md")
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\s*\\| `([A-Za-z.\\[\\]]+)` \\|").FindAllStringSubmatch(doc, -1) {
		rows[m[1]] = true
	}
	textUnmarshaler := reflect.TypeFor[encoding.TextUnmarshaler]()
	var walk func(typ reflect.Type, path []string)
	walk = func(typ reflect.Type, path []string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || reflect.PointerTo(typ).Implements(textUnmarshaler) {
			for i := range path { // "name", "author.name", "git.author.name"…
				if rows[strings.Join(path[len(path)-1-i:], ".")] {
					return
				}
			}
			t.Errorf("docs/configuration.md: field %s has no table row", strings.Join(path, "."))
			return
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			walk(f.Type, append(path[:len(path):len(path)], name))
		}
	}
	top := reflect.TypeFor[config.Config]()
	for i := range top.NumField() {
		name, _, _ := strings.Cut(top.Field(i).Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		if !strings.Contains(doc, "\n## `"+name+"`\n") {
			t.Errorf("docs/configuration.md has no section ## `%s`", name)
		}
	}
	walk(top, nil)
}
