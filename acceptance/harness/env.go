package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Environment variables the Makefile sets for acceptance tests.
const (
	EnvLifecycleDir = "LIFECYCLE_DIR"
	EnvToolsBin     = "TOOLS_BIN"
)

// debianTools are installed by apt (see the Makefile's apt-tools target) and
// found on PATH; every other tool is looked up in TOOLS_BIN.
var debianTools = map[string]bool{
	"skopeo":          true,
	"docker-registry": true,
}

// LifecycleDir returns the absolute path of the built lifecycle directory.
func LifecycleDir(t testing.TB) string {
	t.Helper()
	dir, err := envDir(EnvLifecycleDir, "make build")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Tool returns the absolute path of an executable tool: tools/bin/<name>
// (from TOOLS_BIN) or, for Debian tools such as skopeo, its path on PATH.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := toolPath(name)
	if err != nil {
		t.Fatalf("tool %s: %v", name, err)
	}
	return path
}

func toolPath(name string) (string, error) {
	if debianTools[name] {
		path, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("not on PATH (run `make tools` as root to apt-get install it): %w", err)
		}
		return filepath.Abs(path)
	}
	dir, err := envDir(EnvToolsBin, "make tools")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("not built (run `make tools`): %w", err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", path)
	}
	return path, nil
}

// envDir reads a directory from the environment; make is the target that
// creates it, named in the error.
func envDir(key, make string) (string, error) {
	dir := os.Getenv(key)
	if dir == "" {
		return "", fmt.Errorf("%s is not set; run the tests through `make acceptance`, which runs `%s` and sets it", key, make)
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%s=%q is not an absolute path", key, dir)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("%s=%q: %w (run `%s`)", key, dir, err, make)
	}
	if !info.IsDir() {
		return "", errors.New(key + "=" + dir + " is not a directory")
	}
	return dir, nil
}
