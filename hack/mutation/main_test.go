package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `package p

var limit = 3 > 2

type box[T any] struct{ v T }

func (b *box[T]) get(n int) bool {
	return n > 0
}

func free(n int) bool {
	f := func() bool { return n < 1 }
	return f()
}
`

// writeModule writes files (path relative to the root) under a new root.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestKeyOf(t *testing.T) {
	root := writeModule(t, map[string]string{"p/p.go": sample})
	for _, tc := range []struct {
		line int
		want string
	}{
		{3, `p/p.go - CONDITIONALS_BOUNDARY "var limit = 3 > 2"`},
		{8, `p/p.go box.get CONDITIONALS_BOUNDARY "return n > 0"`},
		{12, `p/p.go free CONDITIONALS_BOUNDARY "f := func() bool { return n < 1 }"`},
	} {
		k, err := keyOf(root, "p/p.go", tc.line, "CONDITIONALS_BOUNDARY")
		if err != nil {
			t.Fatal(err)
		}
		if k.String() != tc.want {
			t.Errorf("line %d: key %s, want %s", tc.line, k, tc.want)
		}
	}
	if _, err := keyOf(root, "p/p.go", 99, "CONDITIONALS_BOUNDARY"); err == nil {
		t.Error("no error for a line past the end")
	}
}

// The point of the keying: lines added above a mutant leave its key alone,
// and a change to its own line changes it.
func TestKeySurvivesEditsElsewhere(t *testing.T) {
	before := writeModule(t, map[string]string{"p/p.go": sample})
	moved := strings.Replace(sample, "type box", "// A comment.\n// Another.\n\ntype box", 1)
	after := writeModule(t, map[string]string{"p/p.go": moved})
	k1, err := keyOf(before, "p/p.go", 8, "CONDITIONALS_BOUNDARY")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := keyOf(after, "p/p.go", 11, "CONDITIONALS_BOUNDARY")
	if err != nil {
		t.Fatal(err)
	}
	if k1 != k2 {
		t.Fatalf("the key moved with the line: %s then %s", k1, k2)
	}
	changed := writeModule(t, map[string]string{"p/p.go": strings.Replace(sample, "n > 0", "n > 1", 1)})
	k3, err := keyOf(changed, "p/p.go", 8, "CONDITIONALS_BOUNDARY")
	if err != nil {
		t.Fatal(err)
	}
	if k3 == k1 {
		t.Fatalf("a changed line kept its key %s", k1)
	}
}

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    *key
		wantErr string
	}{
		{line: "", want: nil},
		{line: "  # a comment", want: nil},
		{
			line: `p/p.go box.get CONDITIONALS_BOUNDARY "return n > 0"  n >= 0: n is never 0`,
			want: &key{"p/p.go", "box.get", "CONDITIONALS_BOUNDARY", "return n > 0"},
		},
		{
			line: `exporter/retry.go retryAfter CONDITIONALS_BOUNDARY "if s := h(\"Retry-After\"); s > 0 {" the reason`,
			want: &key{"exporter/retry.go", "retryAfter", "CONDITIONALS_BOUNDARY", `if s := h("Retry-After"); s > 0 {`},
		},
		{line: `p/p.go box.get CONDITIONALS_BOUNDARY "return n > 0"`, wantErr: "no reason"},
		{line: `p/p.go box.get CONDITIONALS_BOUNDARY return n > 0  reason`, wantErr: "not a quoted string"},
		{line: `p/p.go:8:9 CONDITIONALS_BOUNDARY  the old format`, wantErr: "not a quoted string"},
		{line: `p/p.go box.get conditionals "return n > 0"  reason`, wantErr: "unknown mutator"},
		{line: `p/p box.get CONDITIONALS_BOUNDARY "return n > 0"  reason`, wantErr: "not a Go file"},
		{line: `p/p.go`, wantErr: "want:"},
	} {
		e, err := parseEntry(tc.line)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one with %q", tc.line, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.line, err)
		case tc.want == nil && e != nil:
			t.Errorf("%q: entry %+v, want none", tc.line, e)
		case tc.want != nil && (e == nil || e.key != *tc.want || e.reason == ""):
			t.Errorf("%q: entry %+v, want key %+v and a reason", tc.line, e, tc.want)
		}
	}
}

func TestCheckEntriesFindsStaleOnes(t *testing.T) {
	root := writeModule(t, map[string]string{"p/p.go": sample})
	entries := []entry{
		{key: key{"p/p.go", "box.get", "CONDITIONALS_BOUNDARY", "return n > 0"}, line: 1},
		{key: key{"p/p.go", "free", "CONDITIONALS_BOUNDARY", "return n > 0"}, line: 2}, // another function
		{key: key{"p/p.go", "box.get", "CONDITIONALS_BOUNDARY", "return n >= 0"}, line: 3},
		{key: key{"p/gone.go", "box.get", "CONDITIONALS_BOUNDARY", "return n > 0"}, line: 4},
	}
	errs := checkEntries(root, entries)
	if len(errs) != 3 {
		t.Fatalf("errors %v, want 3 (entries 2, 3 and 4)", errs)
	}
	for i, err := range errs {
		if want := fmt.Sprintf("line %d:", i+2); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %d: %v, want it to start with %q", i, err, want)
		}
	}
}

// Every entry of the real equivalent.txt names a line of today's code.
func TestEquivalentEntriesAreFresh(t *testing.T) {
	entries, err := readEquivalent("equivalent.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("equivalent.txt lists nothing")
	}
	for _, err := range checkEntries("../..", entries) {
		t.Errorf("equivalent.txt: %v", err)
	}
}

func TestSummariseMatchesByKey(t *testing.T) {
	root := writeModule(t, map[string]string{"p/p.go": sample})
	report := `{"files":[{"file_name":"p.go","mutations":[
		{"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":8,"column":11},
		{"type":"CONDITIONALS_NEGATION","status":"LIVED","line":8,"column":11},
		{"type":"CONDITIONALS_BOUNDARY","status":"KILLED","line":12,"column":30},
		{"type":"CONDITIONALS_BOUNDARY","status":"NOT COVERED","line":3,"column":15}]}]}`
	jsonPath := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(jsonPath, []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{`p/p.go box.get CONDITIONALS_BOUNDARY "return n > 0"`: true}
	s, err := summarise(root, "p", jsonPath, known)
	if err != nil {
		t.Fatal(err)
	}
	if s.killed != 1 || s.lived != 2 || s.equivalent != 1 || s.notCovered != 1 {
		t.Fatalf("score %+v", s)
	}
	want := `p/p.go box.get CONDITIONALS_NEGATION "return n > 0" (at p/p.go:8:11)`
	if len(s.unexplained) != 1 || s.unexplained[0] != want {
		t.Fatalf("unexplained %q, want [%q]", s.unexplained, want)
	}
}

func TestThresholds(t *testing.T) {
	th := thresholds{}
	for _, good := range []string{"cmd/lifecycle-artifacts=25", "platform=90.5"} {
		if err := th.Set(good); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	if th["cmd/lifecycle-artifacts"] != 25 || th["platform"] != 90.5 {
		t.Errorf("thresholds %v", th)
	}
	for _, bad := range []string{"platform", "=5", "platform=x", "platform=101", "platform=-1"} {
		if err := th.Set(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if got := th.String(); got != "cmd/lifecycle-artifacts=25,platform=90.5" {
		t.Errorf("String() = %q", got)
	}
}

// A package's own coverage threshold replaces -coverage for it only.
func TestRunAppliesCoverageFor(t *testing.T) {
	root := writeModule(t, map[string]string{"p/p.go": sample, "q/q.go": sample})
	out := t.TempDir()
	report := `{"files":[{"file_name":"%s","mutations":[
		{"type":"CONDITIONALS_BOUNDARY","status":"KILLED","line":8,"column":11},
		{"type":"CONDITIONALS_BOUNDARY","status":"NOT COVERED","line":12,"column":30}]}]}`
	for _, pkg := range []string{"p", "q"} {
		if err := os.WriteFile(filepath.Join(out, pkg+".json"), fmt.Appendf(nil, report, pkg+".go"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	equivalent := filepath.Join(t.TempDir(), "equivalent.txt")
	if err := os.WriteFile(equivalent, []byte("# none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run("", out, equivalent, 1, 1, 95, 90, thresholds{"q": 50}, true, root, []string{"p", "q"})
	if err == nil || !strings.Contains(err.Error(), "p: mutator coverage 50.00% < 90%") || strings.Contains(err.Error(), "q:") {
		t.Fatalf("error %v, want p (50%% < 90%%) only", err)
	}
}
