package specrules

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const root = "../.."

// TestSpecRulesHaveTests is the rule-to-test consistency check of
// docs/spec.md: every MUST and SHOULD is inside a numbered rule, every rule
// links to a test, every linked test function exists in its file, every
// profile names sections and rules that exist, and every rule identifier a
// Go file names exists.
func TestSpecRulesHaveTests(t *testing.T) {
	s, err := Read(filepath.Join(root, "docs", "spec.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) == 0 {
		t.Fatal("no rules in docs/spec.md")
	}
	if err := s.Check(root); err != nil {
		t.Fatal(err)
	}
	names := s.ProfileNames()
	for _, want := range []string{"exporter", "transaction", "life", "targets"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("no profile %q in docs/spec.md (profiles: %v)", want, names)
		}
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "out" || d.Name() == "tools" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		// This package's own tests name made-up rules.
		if d.IsDir() || !strings.HasSuffix(p, ".go") || filepath.Base(filepath.Dir(p)) == "specrules" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := s.CheckRefs(p, string(data)); err != nil {
			t.Error(err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The checker itself: each kind of drift is an error.
func TestCheckFindsDrift(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pkg", "a_test.go"), []byte("package pkg\n\nfunc TestA(t *testing.T) {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const head = "# Spec\n\n| profile | rules |\n| --- | --- |\n| core | 1 |\n| later | none yet (x, y) |\n\n## 1. One\n\n"
	for _, tc := range []struct {
		name, body string
		parse      bool   // the error comes from Parse, not Check
		want       string // in the error
	}{
		{"no test", "- [R1-1] It MUST work.\n", false, "links to no test"},
		{"missing function", "- [R1-1] It MUST work ([TestB](../pkg/a_test.go)).\n", false, "has no func TestB"},
		{"missing file", "- [R1-1] It MUST work ([TestA](../pkg/b_test.go)).\n", false, "b_test.go"},
		{"keyword outside a rule", "- [R1-1] It MUST work ([TestA](../pkg/a_test.go)).\n- It SHOULD too.\n", true, "SHOULD outside a rule"},
		{"after a paragraph break", "[R1-1] It MUST work ([TestA](../pkg/a_test.go)).\n\nIt MUST also.\n", true, "MUST outside a rule"},
		{"duplicate", "- [R1-1] It MUST work ([TestA](../pkg/a_test.go)).\n- [R1-1] It MUST too ([TestA](../pkg/a_test.go)).\n", true, "defined twice"},
		{"wrong section", "- [R2-1] It MUST work ([TestA](../pkg/a_test.go)).\n", true, "is in section 1"},
		{"no keyword", "- [R1-1] It works ([TestA](../pkg/a_test.go)).\n", true, "no MUST or SHOULD"},
		{"unknown profile selector", "- [R1-1] It MUST work ([TestA](../pkg/a_test.go)).\n", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(head+tc.body, "docs")
			if tc.parse {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Parse: %v, want an error containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v, want an error containing %q", err, tc.want)
			}
		})
	}

	s, err := Parse(head+"- [R1-1] It MUST work ([TestA](../pkg/a_test.go)).\n", "docs")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckRefs("x_test.go", "// checks [R1-1] and [R1-2]"); err == nil || !strings.Contains(err.Error(), "R1-2") {
		t.Fatalf("CheckRefs: %v, want an error naming R1-2", err)
	}
	s.Profiles = append(s.Profiles, Profile{Name: "bad", Selectors: []string{"9", "R1-7"}})
	if err := s.Check(dir); err == nil || !strings.Contains(err.Error(), "section 9") || !strings.Contains(err.Error(), "rule R1-7") {
		t.Fatalf("Check: %v, want errors for section 9 and rule R1-7", err)
	}
}

// Rule extents: links after a nested list or an indented paragraph belong
// to the rule; a new top-level item ends it.
func TestParseExtents(t *testing.T) {
	s, err := Parse("| profile | rules |\n| --- | --- |\n| core | 1 |\n\n## 1. One\n\n"+
		"- [R1-1] `config`:\n  - with x;\n  - otherwise y.\n\n  The config MUST follow these rules\n  ([TestA](../a/a_test.go)). [R1-2] It SHOULD\n  be fast ([TestB](../acceptance/b_test.go)).\n"+
		"- `layers`: one per file ([TestC](../a/a_test.go)).\n", "docs")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) != 2 {
		t.Fatalf("%d rules", len(s.Rules))
	}
	r1, r2 := s.Rules[0], s.Rules[1]
	if r1.Kind != "MUST" || len(r1.Tests) != 1 || r1.Tests[0] != (Test{"TestA", "a/a_test.go"}) || r1.Profile != "core" {
		t.Fatalf("R1-1: %+v", r1)
	}
	if r2.Kind != "SHOULD" || len(r2.Tests) != 1 || !r2.Tests[0].Acceptance() || r2.Summary != "It SHOULD be fast (TestB)." {
		t.Fatalf("R1-2: %+v %q", r2, r2.Summary)
	}
}
