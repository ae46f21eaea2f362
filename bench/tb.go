package main

import (
	"fmt"
	"log"
	"os"
	"sync"
	"testing"
)

// tb lets acceptance/fixture and acceptance/harness, which take a
// testing.TB, run in a plain program. Only the methods they call are
// implemented; the embedded nil interface supplies testing.TB's unexported
// method and would panic on anything else.
type tb struct {
	testing.TB

	root string // every TempDir is made under root

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// fatal is the panic value of Fatal and Fatalf; main recovers it.
type fatal string

func newTB() (*tb, error) {
	root, err := os.MkdirTemp("", "lifecycle-bench-")
	if err != nil {
		return nil, err
	}
	return &tb{root: root}, nil
}

func (t *tb) Helper()      {}
func (t *tb) Name() string { return "bench" }

func (t *tb) Logf(format string, args ...any) {
	if verbose {
		log.Printf(format, args...)
	}
}

func (t *tb) Log(args ...any) { t.Logf("%s", fmt.Sprint(args...)) }

func (t *tb) Errorf(format string, args ...any) {
	log.Printf("error: "+format, args...)
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
}

func (t *tb) Fatalf(format string, args ...any) { panic(fatal(fmt.Sprintf(format, args...))) }
func (t *tb) Fatal(args ...any)                 { panic(fatal(fmt.Sprint(args...))) }

func (t *tb) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

func (t *tb) TempDir() string {
	dir, err := os.MkdirTemp(t.root, "")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	return dir
}

// cleanup runs the cleanups in reverse order (which stops the registry by
// its PID), then removes every temporary directory.
func (t *tb) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	if err := os.RemoveAll(t.root); err != nil {
		log.Printf("removing %s: %v", t.root, err)
	}
}
