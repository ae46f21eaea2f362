package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gremlins v0.5.0 names a mutant's package by walking up from its file's
// directory to one whose path ends with the Go package name; for a package
// main (cmd/lifecycle-artifacts) none does, and it tests the module root
// instead ("go test <module>"), which has no package: the test run fails to
// set up, exit 1, and every covered mutant counts as killed. goShim writes
// a `go` into dir that runs the real one with the module path argument
// replaced by ".", the package directory gremlins runs the tests in. Other
// packages' arguments never equal the module path.
func goShim(dir, root string) error {
	real, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	mod, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	script := fmt.Sprintf(`#!/bin/sh
# Written by hack/mutation (mainpkg.go): gremlins tests a package main
# under the module path; test the package directory instead.
for a; do
	shift
	if [ "$a" = %q ]; then set -- "$@" .; else set -- "$@" "$a"; fi
done
exec %q "$@"
`, mod, real)
	return os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755)
}

// modulePath reads the module path from a go.mod.
func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New(gomod + ": no module line")
}
