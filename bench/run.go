package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
)

// sourceDateEpoch pins the image's created time, so repeated exports of one
// workspace give the same image.
const sourceDateEpoch = "SOURCE_DATE_EPOCH=1700000000"

// platformAPI is the one pack 0.38 runs the lifecycle at.
const platformAPI = "0.13"

// sample is one timed command.
type sample struct {
	Seconds     float64 `json:"seconds"`
	MaxRSSKiB   int64   `json:"max_rss_kib,omitempty"`
	CPUSeconds  float64 `json:"cpu_seconds"`          // the command's user+system
	RegistryCPU float64 `json:"registry_cpu_seconds"` // the registry's, during the command
	Output      string  `json:"-"`                    // the command's stdout and stderr
}

func (s *sample) add(o sample) {
	s.Seconds += o.Seconds
	s.CPUSeconds += o.CPUSeconds
	s.RegistryCPU += o.RegistryCPU
	s.MaxRSSKiB = max(s.MaxRSSKiB, o.MaxRSSKiB)
}

// bench holds what every case needs.
type bench struct {
	t         *tb
	lifecycle string // out/lifecycle
	oras      string
	regHost   string
	regPID    int
	runImage  string
}

// timed runs cmd and measures its wall time, peak RSS and CPU, and the
// registry's CPU meanwhile.
func (b *bench) timed(cmd *exec.Cmd) (sample, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	reg0 := procCPU(b.regPID)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	// rusage's ru_maxrss is no good here: Linux carries the parent's RSS
	// high-water mark over the exec of a child forked with CLONE_VM (as Go
	// does), so it never reads below this program's own RSS. Poll VmHWM of
	// the exec'd process instead.
	hwm := make(chan int64)
	stop := make(chan struct{})
	go func() {
		var peak int64
		for {
			peak = max(peak, vmHWM(cmd.Process.Pid))
			select {
			case <-stop:
				hwm <- peak
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	elapsed := time.Since(start)
	close(stop)
	peak := <-hwm
	reg1 := procCPU(b.regPID)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, tail(out.String(), 4000))
	}
	s := sample{Seconds: elapsed.Seconds(), RegistryCPU: reg1 - reg0, Output: out.String()}
	if ps := cmd.ProcessState; ps != nil {
		s.CPUSeconds = (ps.UserTime() + ps.SystemTime()).Seconds()
		s.MaxRSSKiB = peak
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && peak == 0 {
			s.MaxRSSKiB = ru.Maxrss // an upper bound (KiB on Linux)
		}
	}
	if verbose {
		fmt.Fprintf(os.Stderr, "  %.3fs %s\n", s.Seconds, strings.Join(cmd.Args, " "))
	}
	return s, nil
}

// export runs our exporter (stock=false) or upstream's on w.
func (b *bench) export(w *fixture.Workspace, stock bool, names ...string) (sample, error) {
	return b.run(w, stock, nil, names...)
}

// exportEnv runs our exporter on w with env added to the platform's.
func (b *bench) exportEnv(w *fixture.Workspace, env []string, names ...string) (sample, error) {
	return b.run(w, false, env, names...)
}

func (b *bench) run(w *fixture.Workspace, stock bool, env []string, names ...string) (sample, error) {
	args := w.Args(filepath.Join(b.lifecycle, "launcher"))
	bin := filepath.Join(b.lifecycle, "exporter")
	if stock {
		bin = filepath.Join(b.lifecycle, "lifecycle")
		args = append([]string{"export"}, args...)
	}
	cmd := exec.Command(bin, append(args, names...)...)
	cmd.Env = append(append(w.Env(platformAPI), sourceDateEpoch), env...)
	s, err := b.timed(cmd)
	os.Remove(w.Report)
	return s, err
}

// orasPush pushes files (relative to dir) as one artifact to ref.
func (b *bench) orasPush(dir, ref string, files ...string) (sample, error) {
	args := append([]string{"push", "--plain-http", "--no-tty", ref}, files...)
	cmd := exec.Command(b.oras, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	return b.timed(cmd)
}

// vmHWM returns the peak resident set size of process pid in KiB, or 0.
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// procCPU returns the user+system CPU seconds of process pid so far.
func procCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
