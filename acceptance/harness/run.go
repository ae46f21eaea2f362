package harness

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Run runs cmd, logging its command line, and returns its output and exit
// code. A command that cannot be started at all fails the test.
func Run(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, exitCode int) {
	t.Helper()
	t.Logf("$ %s", commandLine(cmd))
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		exitCode = exitErr.ExitCode()
	default:
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	t.Logf("exit %d after %s", exitCode, elapsed)
	return outBuf.String(), errBuf.String(), exitCode
}

func commandLine(cmd *exec.Cmd) string {
	args := make([]string, len(cmd.Args))
	for i, a := range cmd.Args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		args[i] = a
	}
	if len(args) == 0 {
		return cmd.Path
	}
	return strings.Join(args, " ")
}
