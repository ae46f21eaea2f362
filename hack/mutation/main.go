// Command mutation runs go-gremlins over packages of this module, one at a
// time, and prints per package the mutants killed, lived and not covered,
// the test efficacy and the mutator coverage. It fails when a package is
// under the thresholds, or when a mutant lives that equivalent.txt does not
// list as equivalent.
//
// equivalent.txt keys a mutant by what survives edits elsewhere in its file:
// the file, the function that holds it, the mutator and the text of its
// source line (see key.go). Line and column numbers, which gremlins reports,
// move with every edit above them.
//
// Counting: a mutant whose tests time out counts as killed (the tests did
// not pass), a mutant that does not compile is left out. Efficacy is
// killed / (killed + lived); mutator coverage is (killed + lived) / (killed +
// lived + not covered).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

type report struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

type score struct {
	killed, timedOut, lived, notCovered, notViable int
	equivalent                                     int
	unexplained                                    []string // lived, not in equivalent.txt
}

func (s score) efficacy() float64 {
	k := float64(s.killed + s.timedOut)
	return 100 * k / max(k+float64(s.lived), 1)
}

func (s score) coverage() float64 {
	c := float64(s.killed + s.timedOut + s.lived)
	return 100 * c / max(c+float64(s.notCovered), 1)
}

func main() {
	gremlins := flag.String("gremlins", "tools/bin/gremlins", "the gremlins binary")
	out := flag.String("out", "out/mutation", "directory for each package's log and JSON report")
	equivalent := flag.String("equivalent", "hack/mutation/equivalent.txt", "surviving mutants known to be equivalent")
	root := flag.String("root", ".", "the module root, which package paths and equivalent.txt's files are relative to")
	workers := flag.Int("workers", 1, "gremlins workers per package")
	coefficient := flag.Int("timeout-coefficient", 20, "gremlins timeout coefficient")
	minEfficacy := flag.Float64("efficacy", 95, "minimum test efficacy, percent")
	minCoverage := flag.Float64("coverage", 90, "minimum mutator coverage, percent")
	coverageFor := thresholds{}
	flag.Var(coverageFor, "coverage-for", "pkg=percent: the minimum mutator coverage of one package instead of -coverage (repeatable)")
	reuse := flag.Bool("reuse", false, "summarise the JSON reports already in -out instead of running gremlins")
	flag.Parse()
	if err := run(*gremlins, *out, *equivalent, *workers, *coefficient, *minEfficacy, *minCoverage, coverageFor, *reuse, *root, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mutation:", err)
		os.Exit(1)
	}
}

func run(gremlins, out, equivalentFile string, workers, coefficient int, minEfficacy, minCoverage float64, coverageFor thresholds, reuse bool, root string, pkgs []string) error {
	if len(pkgs) == 0 {
		return errors.New("no packages given")
	}
	entries, err := readEquivalent(equivalentFile)
	if err != nil {
		return err
	}
	if errs := checkEntries(root, entries); len(errs) > 0 {
		return fmt.Errorf("%s: %w", equivalentFile, errors.Join(errs...))
	}
	known := map[string]bool{}
	for _, e := range entries {
		known[e.key.String()] = true
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	scores := map[string]score{}
	for _, pkg := range pkgs {
		// cmd/lifecycle-artifacts is reported as cmd_lifecycle-artifacts.json.
		base := filepath.Join(out, strings.ReplaceAll(pkg, "/", "_"))
		jsonPath := base + ".json"
		if !reuse {
			if err := unleash(gremlins, root, pkg, jsonPath, base+".log", workers, coefficient); err != nil {
				return err
			}
		}
		s, err := summarise(root, pkg, jsonPath, known)
		if err != nil {
			return err
		}
		scores[pkg] = s
	}
	var failures []string
	fmt.Printf("%-24s %7s %9s %6s %12s %10s %11s %9s %9s\n", "package", "killed", "timed-out", "lived", "equivalent", "not-cov", "not-viable", "efficacy", "coverage")
	for _, pkg := range pkgs {
		s := scores[pkg]
		fmt.Printf("%-24s %7d %9d %6d %12d %10d %11d %8.2f%% %8.2f%%\n", pkg, s.killed, s.timedOut, s.lived, s.equivalent, s.notCovered, s.notViable, s.efficacy(), s.coverage())
		if s.efficacy() < minEfficacy {
			failures = append(failures, fmt.Sprintf("%s: efficacy %.2f%% < %.0f%%", pkg, s.efficacy(), minEfficacy))
		}
		minCov := minCoverage
		if c, ok := coverageFor[pkg]; ok {
			minCov = c
		}
		if s.coverage() < minCov {
			failures = append(failures, fmt.Sprintf("%s: mutator coverage %.2f%% < %.0f%%", pkg, s.coverage(), minCov))
		}
		for _, u := range s.unexplained {
			failures = append(failures, "lived, not listed as equivalent: "+u)
		}
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "\n  "))
	}
	return nil
}

// thresholds are per-package percentages given as pkg=percent.
type thresholds map[string]float64

func (th thresholds) String() string {
	var parts []string
	for pkg, v := range th {
		parts = append(parts, fmt.Sprintf("%s=%g", pkg, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (th thresholds) Set(s string) error {
	pkg, v, ok := strings.Cut(s, "=")
	if !ok || pkg == "" {
		return fmt.Errorf("%q: want pkg=percent", s)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 100 {
		return fmt.Errorf("%q: want a percentage from 0 to 100", s)
	}
	th[pkg] = f
	return nil
}

func unleash(gremlins, root, pkg, jsonPath, logPath string, workers, coefficient int) error {
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	shim, err := os.MkdirTemp("", "mutation-go")
	if err != nil {
		return err
	}
	defer os.RemoveAll(shim)
	if err := goShim(shim, root); err != nil {
		return err
	}
	fmt.Printf("> gremlins unleash ./%s (log: %s)\n", pkg, logPath)
	cmd := exec.Command(gremlins, "unleash", "--workers", fmt.Sprint(workers), "--timeout-coefficient", fmt.Sprint(coefficient), "-o", jsonPath, "./"+pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+shim+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gremlins on %s: %w (see %s)", pkg, err, logPath)
	}
	return nil
}

func summarise(root, pkg, jsonPath string, known map[string]bool) (score, error) {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return score{}, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return score{}, fmt.Errorf("%s: %w", jsonPath, err)
	}
	var s score
	for _, f := range r.Files {
		for _, m := range f.Mutations {
			switch m.Status {
			case "KILLED":
				s.killed++
			case "TIMED OUT":
				s.timedOut++
			case "LIVED":
				s.lived++
				file := pkg + "/" + f.FileName
				k, err := keyOf(root, file, m.Line, m.Type)
				if err != nil {
					return score{}, fmt.Errorf("%s: %w", jsonPath, err)
				}
				if known[k.String()] {
					s.equivalent++
				} else {
					// The position helps to find it; the key is what to list.
					s.unexplained = append(s.unexplained, fmt.Sprintf("%s (at %s:%d:%d)", k, file, m.Line, m.Column))
				}
			case "NOT COVERED":
				s.notCovered++
			case "NOT VIABLE":
				s.notViable++
			default:
				return score{}, fmt.Errorf("%s: unknown status %q", jsonPath, m.Status)
			}
		}
	}
	return s, nil
}
