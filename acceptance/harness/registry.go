package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const (
	registryStartTimeout = 15 * time.Second
	registryStopTimeout  = 5 * time.Second
	// startAttempts covers the small window in which another process can take
	// the free port we picked before the registry binds it.
	startAttempts = 3
	logTailBytes  = 4 << 10
)

// Registry is a registry process serving plain HTTP on the loopback interface.
type Registry struct {
	Name      string // "distribution" or "olareg"
	Host      string // "127.0.0.1:PORT"
	PID       int
	Referrers bool // whether it serves the OCI referrers API
	LogPath   string

	done <-chan struct{} // closed once the process has exited
}

// LogTail returns the end of the registry's combined stdout and stderr, for
// failure messages.
func (r *Registry) LogTail() string {
	return fileTail(r.LogPath)
}

// Registries returns the starters of every real registry the suites run
// against: distribution 2.8 and 3.0 (fallback index) and olareg (referrers
// API). A test that loops over it covers a registry added here.
func Registries() []func(testing.TB) *Registry {
	return []func(testing.TB) *Registry{StartDistribution, StartDistribution3, StartOlareg}
}

// StartDistribution starts the Debian docker-registry (CNCF distribution 2.8)
// with filesystem storage, no auth and deletes enabled. It has no referrers API.
func StartDistribution(t testing.TB) *Registry {
	t.Helper()
	bin := Tool(t, "docker-registry")
	return startRegistry(t, "distribution", false, func(dir string, port int) ([]string, error) {
		config := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(config, distributionConfig(filepath.Join(dir, "storage"), port), 0o644); err != nil {
			return nil, fmt.Errorf("writing distribution config: %w", err)
		}
		return []string{bin, "serve", config}, nil
	})
}

// StartOlareg starts tools/bin/olareg with directory storage and deletes
// enabled. It serves the referrers API.
func StartOlareg(t testing.TB) *Registry {
	t.Helper()
	bin := Tool(t, "olareg")
	return startRegistry(t, "olareg", true, func(dir string, port int) ([]string, error) {
		storage := filepath.Join(dir, "storage")
		if err := os.Mkdir(storage, 0o755); err != nil {
			return nil, fmt.Errorf("creating olareg storage: %w", err)
		}
		return []string{bin, "serve",
			"--addr", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", storage,
			"--api-delete",
		}, nil
	})
}

func distributionConfig(storage string, port int) []byte {
	return fmt.Appendf(nil, `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%d
  secret: acceptance-harness
`, storage, port)
}

// commandFunc prepares a registry's files in dir and returns its command line.
type commandFunc func(dir string, port int) ([]string, error)

func startRegistry(t testing.TB, name string, referrers bool, command commandFunc) *Registry {
	t.Helper()
	var errs []error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		reg, err := tryStart(t, name, referrers, command)
		if err == nil {
			t.Logf("%s registry on %s (pid %d)", name, reg.Host, reg.PID)
			return reg
		}
		errs = append(errs, fmt.Errorf("attempt %d: %w", attempt, err))
	}
	t.Fatalf("starting %s registry: %v", name, errors.Join(errs...))
	return nil
}

func tryStart(t testing.TB, name string, referrers bool, command commandFunc) (*Registry, error) {
	t.Helper()
	// TempDir's removal is registered before the process cleanup below, so it
	// runs after the process is gone.
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args, err := command(dir, port)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating log file: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	reg := &Registry{
		Name:      name,
		Host:      net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		PID:       cmd.Process.Pid,
		Referrers: referrers,
		LogPath:   logPath,
		done:      done,
	}
	t.Cleanup(func() {
		reg.stop(t, cmd.Process)
		if t.Failed() {
			t.Logf("%s registry log (tail):\n%s", name, reg.LogTail())
		}
	})

	if err := reg.waitReady(); err != nil {
		reg.stop(t, cmd.Process)
		return nil, fmt.Errorf("%s %s: %w; log tail:\n%s", name, commandLine(cmd), err, reg.LogTail())
	}
	return reg, nil
}

// waitReady polls GET /v2/ until the registry answers or its process exits.
func (r *Registry) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), registryStartTimeout)
	defer cancel()
	url := "http://" + r.Host + "/v2/"
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("building request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("GET %s: %s", url, resp.Status)
		} else {
			last = err
		}
		select {
		case <-r.done:
			return fmt.Errorf("process %d exited before answering GET %s", r.PID, url)
		case <-ctx.Done():
			return fmt.Errorf("no answer within %s: %w", registryStartTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop kills exactly this registry's process and waits for it to exit. A
// graceful SIGTERM is not worth it: the storage is a temporary directory, and
// olareg's graceful shutdown waits up to 5 s for client connections that were
// dialled but never used. It is safe to call more than once.
func (r *Registry) stop(t testing.TB, proc *os.Process) {
	select {
	case <-r.done:
		return
	default:
	}
	if err := proc.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("killing %s registry (pid %d): %v", r.Name, r.PID, err)
	}
	select {
	case <-r.done:
	case <-time.After(registryStopTimeout):
		t.Errorf("%s registry (pid %d) did not exit %s after SIGKILL", r.Name, r.PID, registryStopTimeout)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if len(data) > logTailBytes {
		data = data[len(data)-logTailBytes:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	if len(data) == 0 {
		return "(empty)"
	}
	return string(data)
}
