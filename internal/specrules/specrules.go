// Package specrules reads the numbered rules of docs/spec.md: each rule
// starts with its identifier, [R<section>-<n>], and runs to the next
// identifier, heading, top-level list item, table, or paragraph break; the
// test links within it ([TestName](../path_test.go)) are the tests that check
// it. The conformance kit (hack/conformance) and the consistency test read
// the spec only through this package, so the two cannot drift.
package specrules

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Test is a test function a rule links to.
type Test struct {
	Name string // TestX or FuzzX
	File string // slash path relative to the repository root
}

// Acceptance reports whether the test is in the acceptance suite, which runs
// lifecycle binaries; the others are unit tests of this implementation.
func (t Test) Acceptance() bool { return strings.HasPrefix(t.File, "acceptance/") }

// Package is the test's package as a go command argument, e.g. ./artifacts.
func (t Test) Package() string { return "./" + path.Dir(t.File) }

// Rule is one numbered rule of the spec.
type Rule struct {
	ID      string `json:"id"`      // R2.4-3
	Section string `json:"section"` // 2.4
	Heading string `json:"heading"` // 2.4 Validation
	Kind    string `json:"kind"`    // MUST or SHOULD
	Profile string `json:"profile"`
	Summary string `json:"summary"` // the rule's first sentence, links as plain text
	Line    int    `json:"line"`
	Tests   []Test `json:"tests"`

	text strings.Builder
}

// Spec is the parsed spec.
type Spec struct {
	Rules    []*Rule
	Profiles []Profile
	Sections map[string]string // number -> heading
}

// Profile is a row of the spec's profile table.
type Profile struct {
	Name      string
	Selectors []string // sections ("7", "14.4") or rule IDs ("R9-2")
}

var (
	headingRE = regexp.MustCompile(`^#{2,3} (\d+(?:\.\d+)?)\.? +(.*)$`)
	tagRE     = regexp.MustCompile(`\[R(\d+(?:\.\d+)?)-(\d+)\]`)
	linkRE    = regexp.MustCompile(`\[((?:Test|Fuzz)[A-Za-z0-9_]+)\]\(([^)\s]+)\)`)
	anyLinkRE = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	keywordRE = regexp.MustCompile(`\b(MUST|SHOULD)\b`)
	commentRE = regexp.MustCompile(`\([^)]*\)`)
	profileRE = regexp.MustCompile(`^\| *([a-z]+) *\| *(.*?) *\|$`)
	// RuleRef is how code and tests name a rule.
	RuleRef = regexp.MustCompile(`\[(R\d+(?:\.\d+)?-\d+)\]`)
)

// Read parses the spec at path (docs/spec.md); links resolve against its
// directory.
func Read(specPath string) (*Spec, error) {
	data, err := os.ReadFile(specPath)
	if err != nil {
		return nil, err
	}
	return Parse(string(data), "docs")
}

// Parse parses a spec whose links are relative to dir (slash path relative
// to the repository root). It fails on an identifier that is repeated,
// belongs to another section, or starts a rule without MUST or SHOULD, and
// on a MUST or SHOULD outside any rule (after the first numbered section).
func Parse(text, dir string) (*Spec, error) {
	s := &Spec{Sections: map[string]string{}}
	var errs []error
	seen := map[string]bool{}
	var cur *Rule
	section, heading := "", ""
	blank, fence, profiles := false, false, false
	closeRule := func() {
		if cur != nil {
			finish(cur)
			cur = nil
		}
	}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		if strings.HasPrefix(line, "```") {
			fence = !fence
			closeRule()
			continue
		}
		if fence {
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			closeRule()
			section, heading = m[1], m[1]+" "+strings.Trim(m[2], "`")
			s.Sections[section] = heading
			profiles = false
			continue
		}
		if section == "" {
			// The preamble: only the profile table is read.
			if strings.HasPrefix(line, "| profile |") {
				profiles = true
			} else if profiles {
				if m := profileRE.FindStringSubmatch(line); m != nil {
					p := Profile{Name: m[1]}
					// "none yet (…)": a profile whose rules are still to
					// come; text in parentheses is a comment.
					if !strings.HasPrefix(m[2], "none") {
						for _, sel := range strings.Split(commentRE.ReplaceAllString(m[2], ""), ",") {
							if sel = strings.TrimSpace(sel); sel != "" {
								p.Selectors = append(p.Selectors, sel)
							}
						}
					}
					s.Profiles = append(s.Profiles, p)
				} else if !strings.HasPrefix(line, "| ---") {
					profiles = false
				}
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			blank = true
			continue
		}
		indented := line[0] == ' ' || line[0] == '\t'
		if cur != nil && ((blank && !indented) || strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "|") || startsNumbered(line)) {
			closeRule()
		}
		blank = false
		// Split the line at its identifiers: text before the first belongs
		// to the current rule.
		pos := 0
		tags := tagRE.FindAllStringSubmatchIndex(line, -1)
		for _, tg := range tags {
			if tg[1] < len(line) && line[tg[1]] == '(' {
				continue // a link, not an identifier
			}
			errs = append(errs, segment(cur, line[pos:tg[0]], n, dir)...)
			closeRule()
			id := line[tg[0]+1 : tg[1]-1]
			sec := line[tg[2]:tg[3]]
			switch {
			case seen[id]:
				errs = append(errs, fmt.Errorf("line %d: rule %s is defined twice", n, id))
			case sec != section:
				errs = append(errs, fmt.Errorf("line %d: rule %s is in section %s", n, id, section))
			}
			seen[id] = true
			cur = &Rule{ID: id, Section: section, Heading: heading, Line: n}
			s.Rules = append(s.Rules, cur)
			pos = tg[1]
		}
		errs = append(errs, segment(cur, line[pos:], n, dir)...)
	}
	closeRule()
	for _, r := range s.Rules {
		if r.Kind == "" {
			errs = append(errs, fmt.Errorf("line %d: rule %s has no MUST or SHOULD", r.Line, r.ID))
		}
	}
	for _, r := range s.Rules {
		r.Profile = s.profileOf(r)
	}
	return s, errors.Join(errs...)
}

func startsNumbered(line string) bool {
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i > 0 && strings.HasPrefix(line[i:], ". ")
}

// segment adds a piece of a line to rule r (nil: outside any rule).
func segment(r *Rule, text string, line int, dir string) []error {
	if r == nil {
		if m := keywordRE.FindString(text); m != "" {
			return []error{fmt.Errorf("line %d: %s outside a rule (give it an identifier [R<section>-<n>]): %q", line, m, strings.TrimSpace(text))}
		}
		return nil
	}
	r.text.WriteString(text)
	r.text.WriteString(" ")
	for _, m := range keywordRE.FindAllString(text, -1) {
		if m == "MUST" || r.Kind == "" {
			r.Kind = m
		}
	}
	for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
		t := Test{Name: m[1], File: path.Clean(path.Join(dir, m[2]))}
		if !slices.Contains(r.Tests, t) {
			r.Tests = append(r.Tests, t)
		}
	}
	return nil
}

func finish(r *Rule) {
	text := anyLinkRE.ReplaceAllString(r.text.String(), "$1")
	text = strings.Join(strings.Fields(text), " ")
	text = strings.ReplaceAll(strings.TrimLeft(text, "- "), "**", "")
	if i := strings.Index(text[min(40, len(text)):], ". "); i >= 0 {
		text = text[:min(40, len(text))+i+1]
	}
	const max = 110
	if len(text) > max {
		cut := strings.LastIndex(text[:max], " ")
		if cut < 40 {
			cut = max
		}
		text = text[:cut] + " …"
	}
	r.Summary = text
}

// profileOf is the profile whose selectors name the rule, its section or
// the section's parent; a rule ID beats a section, a subsection its section.
func (s *Spec) profileOf(r *Rule) string {
	best, bestLen := "", -1
	for _, p := range s.Profiles {
		for _, sel := range p.Selectors {
			l := -1
			switch {
			case sel == r.ID:
				l = 100
			case sel == r.Section:
				l = len(sel)
			case strings.HasPrefix(r.Section, sel+"."):
				l = len(sel)
			}
			if l > bestLen {
				best, bestLen = p.Name, l
			}
		}
	}
	return best
}

// Rule returns the rule with that identifier, or nil.
func (s *Spec) Rule(id string) *Rule {
	for _, r := range s.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Check checks the spec against the repository at root: every rule has a
// profile and at least one test, every linked test function exists in its
// file, and every profile selector names a section or rule of the spec.
func (s *Spec) Check(root string) error {
	var errs []error
	files := map[string]string{}
	for _, r := range s.Rules {
		if r.Profile == "" {
			errs = append(errs, fmt.Errorf("rule %s (line %d): no profile names it or its section %s", r.ID, r.Line, r.Section))
		}
		if len(r.Tests) == 0 {
			errs = append(errs, fmt.Errorf("rule %s (line %d): links to no test", r.ID, r.Line))
		}
		for _, t := range r.Tests {
			src, ok := files[t.File]
			if !ok {
				data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(t.File)))
				if err != nil {
					errs = append(errs, fmt.Errorf("rule %s: %s: %v", r.ID, t.Name, err))
					files[t.File] = ""
					continue
				}
				src = string(data)
				files[t.File] = src
			}
			if src == "" {
				continue
			}
			if !regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(t.Name) + `\(`).MatchString(src) {
				errs = append(errs, fmt.Errorf("rule %s: %s links to %s, which has no func %s", r.ID, t.Name, t.File, t.Name))
			}
		}
	}
	for _, p := range s.Profiles {
		for _, sel := range p.Selectors {
			if strings.HasPrefix(sel, "R") {
				if s.Rule(sel) == nil {
					errs = append(errs, fmt.Errorf("profile %s names rule %s, which does not exist", p.Name, sel))
				}
			} else if _, ok := s.Sections[sel]; !ok {
				errs = append(errs, fmt.Errorf("profile %s names section %s, which does not exist", p.Name, sel))
			}
		}
	}
	return errors.Join(errs...)
}

// CheckRefs checks that every rule identifier named in src (a file's text,
// e.g. a test naming the rule it checks) exists.
func (s *Spec) CheckRefs(name, src string) error {
	var errs []error
	for _, m := range RuleRef.FindAllStringSubmatch(src, -1) {
		if s.Rule(m[1]) == nil {
			errs = append(errs, fmt.Errorf("%s names rule %s, which docs/spec.md does not define", name, m[1]))
		}
	}
	return errors.Join(errs...)
}

// ProfileNames lists the profiles in the spec's order.
func (s *Spec) ProfileNames() []string {
	var names []string
	for _, p := range s.Profiles {
		names = append(names, p.Name)
	}
	return names
}
