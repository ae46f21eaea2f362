// Command conformance runs the acceptance tests that check the rules of
// docs/spec.md against a lifecycle directory (/cnb/lifecycle-shaped:
// exporter, creator, lifecycle, …, lifecycle.toml) and writes a table with
// one row per rule: out/conformance/<version>.md and .json.
//
// The rules, their tests and the profiles come from docs/spec.md
// (internal/specrules). Each acceptance test runs alone, from one compiled
// test binary, under a deadline, so a hang or a crash fails that test only.
// Rules checked only by unit tests are implementation tests: they run when
// the directory is this repository's build (out/lifecycle), and are
// otherwise reported not applicable.
//
// Usage (see `make conformance`):
//
//	go run ./hack/conformance -lifecycle DIR [-profiles exporter,transaction] [-tools tools/bin] [-out out/conformance]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cnb-artifacts/lifecycle/internal/specrules"
)

const module = "github.com/cnb-artifacts/lifecycle"

// The binaries a lifecycle directory may have, reported in the table.
var binaries = []string{"lifecycle", "exporter", "creator", "rebaser", "launcher", "lifecycle-artifacts"}

type config struct {
	dir, tools, out, spec string
	profiles              []string
	timeout               time.Duration
	unit                  string // auto, yes, no
}

func main() {
	var c config
	var profiles string
	flag.StringVar(&c.dir, "lifecycle", os.Getenv("LIFECYCLE_DIR"), "the lifecycle directory to judge")
	flag.StringVar(&c.tools, "tools", "tools/bin", "the test tools (make tools)")
	flag.StringVar(&c.out, "out", "out/conformance", "where the tables are written")
	flag.StringVar(&c.spec, "spec", "docs/spec.md", "the spec")
	flag.StringVar(&profiles, "profiles", os.Getenv("CONFORMANCE_PROFILES"), "comma-separated profiles (default: all)")
	flag.DurationVar(&c.timeout, "timeout", 15*time.Minute, "deadline of each acceptance test")
	flag.StringVar(&c.unit, "unit", "auto", "run the unit tests of rules: yes, no, or auto (when -lifecycle is this repository's out/lifecycle)")
	render := flag.String("render", "", "print the Markdown table of an earlier run's JSON file and exit")
	flag.Parse()
	if *render != "" {
		data, err := os.ReadFile(*render)
		var t Table
		if err == nil {
			err = json.Unmarshal(data, &t)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			os.Exit(2)
		}
		os.Stdout.Write(markdown(&t))
		return
	}
	for _, p := range strings.Split(profiles, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.profiles = append(c.profiles, p)
		}
	}
	failed, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// Result is the outcome of one test.
type Result struct {
	Name    string  `json:"name"`
	File    string  `json:"file"`
	Suite   string  `json:"suite"`  // acceptance or unit
	Status  string  `json:"status"` // pass, fail, n/a
	Reason  string  `json:"reason,omitempty"`
	Seconds float64 `json:"seconds"`
}

// Row is one rule of the table.
type Row struct {
	ID      string    `json:"id"`
	Section string    `json:"section"`
	Heading string    `json:"heading"`
	Kind    string    `json:"kind"`
	Profile string    `json:"profile"`
	Summary string    `json:"summary"`
	Status  string    `json:"status"` // pass, fail, n/a
	Reason  string    `json:"reason,omitempty"`
	Tests   []*Result `json:"tests"`
}

// Table is the JSON form of the conformance table.
type Table struct {
	Lifecycle struct {
		Dir      string   `json:"dir"`
		Version  string   `json:"version"`
		Binaries []string `json:"binaries"`
		Ours     bool     `json:"ours"`
	} `json:"lifecycle"`
	Spec     string         `json:"spec"`
	Profiles []string       `json:"profiles"`
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"`
	Counts   map[string]int `json:"counts"`
	Rules    []*Row         `json:"rules"`
}

func run(c config) (bool, error) {
	start := time.Now()
	root, err := os.Getwd()
	if err != nil {
		return false, err
	}
	if c.dir == "" {
		return false, errors.New("no lifecycle directory: pass -lifecycle DIR (make conformance LIFECYCLE_DIR=DIR)")
	}
	for _, p := range []*string{&c.dir, &c.tools, &c.out} {
		if *p, err = filepath.Abs(*p); err != nil {
			return false, err
		}
	}
	if info, err := os.Stat(c.dir); err != nil || !info.IsDir() {
		return false, fmt.Errorf("lifecycle directory %s: not a directory (%v)", c.dir, err)
	}
	spec, err := specrules.Read(c.spec)
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.spec, err)
	}
	if err := spec.Check(root); err != nil {
		return false, fmt.Errorf("%s: %w", c.spec, err)
	}
	profiles := c.profiles
	if len(profiles) == 0 {
		profiles = spec.ProfileNames()
	}
	for _, p := range profiles {
		if !slices.Contains(spec.ProfileNames(), p) {
			return false, fmt.Errorf("no profile %q in %s (profiles: %s)", p, c.spec, strings.Join(spec.ProfileNames(), ", "))
		}
	}

	var t Table
	t.Spec, t.Profiles, t.Started = c.spec, profiles, start.UTC().Truncate(time.Second)
	t.Lifecycle.Dir = c.dir
	if rel, err := filepath.Rel(root, c.dir); err == nil && !strings.HasPrefix(rel, "..") {
		t.Lifecycle.Dir = rel
	}
	t.Lifecycle.Version = version(c.dir)
	for _, b := range binaries {
		if info, err := os.Stat(filepath.Join(c.dir, b)); err == nil && !info.IsDir() {
			t.Lifecycle.Binaries = append(t.Lifecycle.Binaries, b)
		}
	}
	ours := sameFile(c.dir, filepath.Join(root, "out", "lifecycle"))
	t.Lifecycle.Ours = ours
	runUnit := c.unit == "yes" || (c.unit == "auto" && ours)

	// The rules of the profiles and their tests.
	var rows []*Row
	results := map[specrules.Test]*Result{}
	var acceptance, unit []specrules.Test
	for _, r := range spec.Rules {
		if !slices.Contains(profiles, r.Profile) {
			continue
		}
		row := &Row{ID: r.ID, Section: r.Section, Heading: r.Heading, Kind: r.Kind, Profile: r.Profile, Summary: r.Summary}
		for _, tt := range r.Tests {
			res, ok := results[tt]
			if !ok {
				res = &Result{Name: tt.Name, File: tt.File, Suite: "unit"}
				if tt.Acceptance() {
					res.Suite = "acceptance"
					acceptance = append(acceptance, tt)
				} else {
					unit = append(unit, tt)
				}
				results[tt] = res
			}
			row.Tests = append(row.Tests, res)
		}
		rows = append(rows, row)
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return false, err
	}
	fmt.Fprintf(os.Stderr, "> Conformance of %s (%s) to %s: %d rules of profiles %s, %d acceptance tests",
		t.Lifecycle.Dir, t.Lifecycle.Version, c.spec, len(rows), strings.Join(profiles, ", "), len(acceptance))
	if runUnit {
		fmt.Fprintf(os.Stderr, ", %d unit tests", len(unit))
	}
	fmt.Fprintln(os.Stderr)

	if len(acceptance) > 0 {
		bin := filepath.Join(c.out, "acceptance.test")
		fmt.Fprintln(os.Stderr, "> go test -c -tags acceptance ./acceptance")
		if err := command(root, nil, "go", "test", "-c", "-tags", "acceptance", "-o", bin, "./acceptance").Run(); err != nil {
			return false, fmt.Errorf("building the acceptance tests: %w", err)
		}
		env := []string{"LIFECYCLE_DIR=" + c.dir, "TOOLS_BIN=" + c.tools, "CONFORMANCE=1"}
		if ours {
			env = append(env, "CONFORMANCE_OURS=1")
		}
		logDir := filepath.Join(c.out, "logs", strings.NewReplacer("/", "_", " ", "_").Replace(t.Lifecycle.Version))
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return false, err
		}
		for _, tt := range acceptance {
			res := results[tt]
			fmt.Fprintf(os.Stderr, "> %s ", tt.Name)
			runAcceptance(filepath.Join(root, "acceptance"), bin, logDir, env, c.timeout, res)
			res.Reason = strings.ReplaceAll(res.Reason, c.dir, t.Lifecycle.Dir)
			fmt.Fprintf(os.Stderr, "%s (%.1fs) %s\n", res.Status, res.Seconds, res.Reason)
		}
	}
	if runUnit && len(unit) > 0 {
		fmt.Fprintln(os.Stderr, "> go test -json (unit tests of the rules)")
		runUnitTests(root, unit, results)
	} else {
		for _, tt := range unit {
			res := results[tt]
			res.Status, res.Reason = "n/a", "implementation test (unit suite), not run against "+t.Lifecycle.Dir
		}
	}

	t.Counts = map[string]int{"pass": 0, "fail": 0, "n/a": 0}
	for _, row := range rows {
		judge(row)
		t.Counts[row.Status]++
	}
	t.Rules = rows
	t.Seconds = time.Since(start).Round(time.Second).Seconds()

	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Lifecycle.Version)
	md := markdown(&t)
	js, err := json.MarshalIndent(&t, "", "  ")
	if err != nil {
		return false, err
	}
	for file, data := range map[string][]byte{name + ".md": md, name + ".json": append(js, '\n')} {
		if err := os.WriteFile(filepath.Join(c.out, file), data, 0o644); err != nil {
			return false, err
		}
	}
	os.Stdout.Write(md)
	fmt.Printf("\nWrote %s.{md,json}\n", filepath.Join(c.out, name))
	return t.Counts["fail"] > 0, nil
}

// judge derives a rule's status from its tests': any failure fails it; a
// pass with no failure passes it; otherwise it is not applicable, with the
// tests' reasons.
func judge(row *Row) {
	var fails, na []string
	pass := false
	for _, r := range row.Tests {
		switch r.Status {
		case "fail":
			fails = append(fails, r.Name+": "+r.Reason)
		case "pass":
			pass = true
		default:
			na = append(na, r.Name+": "+r.Reason)
		}
	}
	switch {
	case len(fails) > 0:
		row.Status, row.Reason = "fail", strings.Join(fails, "; ")
	case pass:
		row.Status = "pass"
	default:
		row.Status, row.Reason = "n/a", strings.Join(na, "; ")
	}
}

func command(dir string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd
}

// event is a go test -json (test2json) event.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// runAcceptance runs one top-level acceptance test from the compiled binary
// through test2json, with the test binary's own deadline and a hard one
// above it.
func runAcceptance(dir, bin, logDir string, env []string, timeout time.Duration, res *Result) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "tool", "test2json", "-t", "-p", "acceptance", bin,
		"-test.v=test2json", "-test.count=1", "-test.timeout="+timeout.String(), "-test.run=^"+res.Name+"$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	res.Seconds = time.Since(start).Round(100 * time.Millisecond).Seconds()
	_ = os.WriteFile(filepath.Join(logDir, res.Name+".json"), out.Bytes(), 0o644)
	parseEvents(bytes.NewReader(out.Bytes()), res)
	if ctx.Err() != nil {
		res.Status, res.Reason = "fail", fmt.Sprintf("killed after %s (no result)", timeout+time.Minute)
	}
	if res.Status == "" {
		res.Status = "fail"
		res.Reason = fmt.Sprintf("no result from the test binary (%v): %s", err, lastLines(out.String(), 3))
	}
}

var (
	fileLineRE = regexp.MustCompile(`^\s*\w+_test\.go:\d+: (.*)$`)
	goLineRE   = regexp.MustCompile(`^\s*\w+\.go:\d+: (.*)$`)
	timeoutRE  = regexp.MustCompile(`panic: test timed out after (\S+)`)
	// What the harness logs for every test: a command line, its exit, a
	// registry started.
	harnessLogRE = regexp.MustCompile(`^(\$ |exit -?\d+ after \S+$|\w+ registry on \S+ \(pid \d+\)$)`)
)

// parseEvents reads test2json events for res.Name and its subtests: the
// status, and for a failure the last message a _test.go line logged in the
// first (sub)test that failed, for a skip the skip message.
func parseEvents(r io.Reader, res *Result) {
	outputs := map[string][]string{}
	firstFail, firstSkip, panicked := "", "", ""
	subPass, subSkip := false, false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		if m := timeoutRE.FindStringSubmatch(e.Output); m != nil {
			res.Status, res.Reason = "fail", "timed out after "+m[1]
			return
		}
		if strings.HasPrefix(e.Output, "panic: ") && panicked == "" {
			panicked = strings.TrimSpace(e.Output)
		}
		if e.Test == "" || (e.Test != res.Name && !strings.HasPrefix(e.Test, res.Name+"/")) {
			continue
		}
		switch e.Action {
		case "output":
			outputs[e.Test] = append(outputs[e.Test], strings.TrimRight(e.Output, "\n"))
		case "fail":
			if firstFail == "" {
				firstFail = e.Test
			}
			if e.Test == res.Name {
				res.Status = "fail"
			}
		case "pass":
			if e.Test == res.Name {
				res.Status = "pass"
			} else {
				subPass = true
			}
		case "skip":
			if e.Test == res.Name {
				res.Status = "n/a"
			} else if !subSkip {
				subSkip, firstSkip = true, e.Test
			}
		}
	}
	// A test whose subtests were all skipped is not applicable.
	if res.Status == "pass" && subSkip && !subPass {
		res.Status = "n/a"
	}
	if panicked != "" && res.Status != "pass" {
		res.Status, res.Reason = "fail", clip(panicked)
		return
	}
	switch res.Status {
	case "fail":
		// The last message of a _test.go line, with the line it printed
		// after it when it ends with a colon.
		msg := ""
		more := 0
		for _, l := range outputs[firstFail] {
			if m := fileLineRE.FindStringSubmatch(l); m != nil {
				if !harnessLogRE.MatchString(m[1]) {
					msg, more = m[1], 0
					if strings.HasSuffix(msg, ":") {
						more = 1
					}
				} else {
					more = 0
				}
				continue
			}
			if more > 0 && strings.HasPrefix(l, "        ") && !strings.HasPrefix(strings.TrimSpace(l), "---") {
				msg += " / " + strings.TrimSpace(l)
				more--
			} else {
				more = 0
			}
		}
		if msg == "" {
			msg = "failed"
		}
		if firstFail != res.Name {
			// test2json names subtests with "_" for " ".
			msg = strings.ReplaceAll(strings.TrimPrefix(firstFail, res.Name+"/"), "_", " ") + ": " + msg
		}
		res.Reason = clip(msg)
	case "n/a":
		skipped := res.Name
		if firstSkip != "" {
			skipped = firstSkip
		}
		for _, l := range outputs[skipped] {
			if m := goLineRE.FindStringSubmatch(l); m != nil {
				res.Reason = clip(strings.TrimPrefix(m[1], "not applicable: "))
			}
		}
	}
}

// runUnitTests runs the unit tests of the rules in one go test -json.
func runUnitTests(root string, tests []specrules.Test, results map[specrules.Test]*Result) {
	var names, pkgs []string
	for _, tt := range tests {
		if !slices.Contains(names, tt.Name) {
			names = append(names, tt.Name)
		}
		if !slices.Contains(pkgs, tt.Package()) {
			pkgs = append(pkgs, tt.Package())
		}
	}
	args := append([]string{"test", "-json", "-count=1", "-run", "^(" + strings.Join(names, "|") + ")$"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	start := time.Now()
	_ = cmd.Run() // failures are in the events
	elapsed := time.Since(start).Seconds()
	byPkg := map[string]*bytes.Buffer{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		b := byPkg[e.Package]
		if b == nil {
			b = &bytes.Buffer{}
			byPkg[e.Package] = b
		}
		b.Write(sc.Bytes())
		b.WriteByte('\n')
	}
	for _, tt := range tests {
		res := results[tt]
		pkg := module + strings.TrimPrefix(tt.Package(), ".")
		if b := byPkg[pkg]; b != nil {
			parseEvents(bytes.NewReader(b.Bytes()), res)
		}
		if res.Status == "" {
			res.Status, res.Reason = "fail", "no result from go test "+tt.Package()
		}
		res.Seconds = float64(int(elapsed*10)) / 10
	}
}

func markdown(t *Table) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Conformance of lifecycle %s to docs/spec.md\n\n", t.Lifecycle.Version)
	fmt.Fprintf(&b, "`make conformance LIFECYCLE_DIR=%s`, profiles %s, %s, %s.\n", t.Lifecycle.Dir, strings.Join(t.Profiles, ", "),
		t.Started.Format(time.RFC3339), (time.Duration(t.Seconds) * time.Second).String())
	fmt.Fprintf(&b, "Binaries in the directory: %s.\n", strings.Join(t.Lifecycle.Binaries, ", "))
	if t.Lifecycle.Ours {
		fmt.Fprintf(&b, "This repository's build: the unit tests of the rules ran too.\n")
	} else {
		fmt.Fprintf(&b, "Another build: rules checked only by unit tests are not applicable (implementation tests, not run against it).\n")
	}
	fmt.Fprintf(&b, "\n**%d rules: %d pass, %d fail, %d not applicable.**\n\n", len(t.Rules), t.Counts["pass"], t.Counts["fail"], t.Counts["n/a"])
	fmt.Fprintf(&b, "| rule | section | kind | profile | status | tests | reason | the rule |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range t.Rules {
		var tests []string
		for _, tt := range r.Tests {
			mark := map[string]string{"pass": "✓", "fail": "✗", "n/a": "–"}[tt.Status]
			tests = append(tests, fmt.Sprintf("%s %s", mark, tt.Name))
		}
		status := map[string]string{"pass": "pass", "fail": "**FAIL**", "n/a": "n/a"}[r.Status]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.ID, cell(r.Heading), r.Kind, r.Profile, status,
			strings.Join(tests, "<br>"), cell(r.Reason), cell(r.Summary))
	}
	return b.Bytes()
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func clip(s string) string {
	s = strings.Join(strings.Fields(ansiRE.ReplaceAllString(s, "")), " ")
	if len(s) > 240 {
		s = s[:240] + " …"
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return clip(strings.Join(lines, " / "))
}

// version reads [lifecycle] version from the directory's lifecycle.toml.
func version(dir string) string {
	var d struct {
		Lifecycle struct{ Version string } `toml:"lifecycle"`
	}
	if _, err := toml.DecodeFile(filepath.Join(dir, "lifecycle.toml"), &d); err != nil || d.Lifecycle.Version == "" {
		return "unknown"
	}
	return d.Lifecycle.Version
}

func sameFile(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}
