package main

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// key names a mutant by what an edit elsewhere in its file leaves alone:
// the file (relative to the module root), the function that holds it
// ("Type.method" for a method, "-" outside any function), the mutator, and
// the text of its source line without the surrounding blanks. One key
// covers every mutant of that mutator on that line of that function; when
// the line itself changes, the key no longer matches and the mutant must be
// judged again, as it should.
type key struct {
	File, Func, Mutator, Text string
}

// String is the key as equivalent.txt writes it, without the reason:
//
//	exporter/retry.go retryPolicy.try CONDITIONALS_BOUNDARY "if after > d {"
func (k key) String() string {
	return fmt.Sprintf("%s %s %s %s", k.File, k.Func, k.Mutator, strconv.Quote(k.Text))
}

// isMutator reports whether s looks like a go-gremlins mutator type (its
// JSON report's "type", such as CONDITIONALS_BOUNDARY).
func isMutator(s string) bool {
	for _, r := range s {
		if (r < 'A' || r > 'Z') && r != '_' {
			return false
		}
	}
	return s != ""
}

// source is one parsed Go file: its lines and, per line, the function that
// holds it.
type source struct {
	lines []string // trimmed, lines[0] is line 1
	funcs []string // funcs[i] holds lines[i]; "-" outside any function
}

var (
	sourcesMu sync.Mutex
	sources   = map[string]*source{}
)

// load parses root/file once.
func load(root, file string) (*source, error) {
	path := filepath.Join(root, filepath.FromSlash(file))
	sourcesMu.Lock()
	defer sourcesMu.Unlock()
	if s, ok := sources[path]; ok {
		return s, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	raw := strings.Split(string(src), "\n")
	s := &source{lines: make([]string, len(raw)), funcs: make([]string, len(raw))}
	for i, l := range raw {
		s.lines[i] = strings.TrimSpace(l)
		s.funcs[i] = "-"
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		name := funcName(fd)
		for l := fset.Position(fd.Pos()).Line; l <= fset.Position(fd.End()).Line; l++ {
			s.funcs[l-1] = name
		}
	}
	sources[path] = s
	return s, nil
}

// funcName is "name" for a function and "Type.name" for a method, whether
// its receiver is a pointer or has type parameters.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.ParenExpr:
			t = x.X
			continue
		}
		break
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

// keyOf returns the key of the mutant gremlins reports at file:line (file
// relative to root, the module root).
func keyOf(root, file string, line int, mutator string) (key, error) {
	s, err := load(root, file)
	if err != nil {
		return key{}, err
	}
	if line < 1 || line > len(s.lines) {
		return key{}, fmt.Errorf("%s has no line %d", file, line)
	}
	return key{File: file, Func: s.funcs[line-1], Mutator: mutator, Text: s.lines[line-1]}, nil
}

// entry is one line of equivalent.txt.
type entry struct {
	key    key
	reason string
	line   int // in equivalent.txt
}

// readEquivalent reads lines
//
//	pkg/file.go Func MUTATOR "source line"  reason
//
// (key.String, then why the mutant lives); # starts a comment. Every entry
// must give a reason.
func readEquivalent(path string) ([]entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var entries []entry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		e, err := parseEntry(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if e == nil {
			continue
		}
		e.line = n
		entries = append(entries, *e)
	}
	return entries, sc.Err()
}

const entryFormat = `want: pkg/file.go Func MUTATOR "source line"  reason`

// parseEntry parses one line of equivalent.txt; nil for a blank line or a
// comment.
func parseEntry(line string) (*entry, error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil, nil
	}
	var k key
	rest := line
	for _, field := range []*string{&k.File, &k.Func, &k.Mutator} {
		f, r, ok := strings.Cut(rest, " ")
		if !ok || f == "" {
			return nil, errors.New(entryFormat)
		}
		*field, rest = f, strings.TrimLeft(r, " \t")
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return nil, fmt.Errorf("the source line is not a quoted string: %w; %s", err, entryFormat)
	}
	if k.Text, err = strconv.Unquote(quoted); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(rest[len(quoted):])
	if reason == "" {
		return nil, errors.New("no reason given; " + entryFormat)
	}
	if !isMutator(k.Mutator) {
		return nil, fmt.Errorf("unknown mutator %q", k.Mutator)
	}
	if !strings.HasSuffix(k.File, ".go") {
		return nil, fmt.Errorf("%q is not a Go file; %s", k.File, entryFormat)
	}
	return &entry{key: k, reason: reason}, nil
}

// checkEntries reports every entry whose function no longer holds its
// source line in root: the code moved or changed, so the entry no longer
// names a mutant, and the mutant it named must be judged again.
func checkEntries(root string, entries []entry) []error {
	var errs []error
	for _, e := range entries {
		s, err := load(root, e.key.File)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", e.line, err))
			continue
		}
		found := false
		for i, text := range s.lines {
			if text == e.key.Text && s.funcs[i] == e.key.Func {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("line %d: %s holds no line %q in %s: the entry is stale", e.line, e.key.File, e.key.Text, e.key.Func))
		}
	}
	return errs
}
