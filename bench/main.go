// Command bench measures our exporter against the stock v0.21.17 exporter and
// against oras, on one local registry (Debian docker-registry, CNCF
// distribution 2.8, on 127.0.0.1), and checks the targets of issue 5.
//
// Each case runs its sides in alternation, BENCH_RUNS times each (default 5),
// and prints the median of each side, the ratio of the medians, our
// exporter's peak RSS and a verdict against the case's target. The results
// are written as JSON to out/bench/results-<timestamp>.json and
// out/bench/latest.json.
//
// Environment:
//
//	LIFECYCLE_DIR  built lifecycle (default ./out/lifecycle; `make build`)
//	TOOLS_BIN      built tools (default ./tools/bin; `make tools`)
//	BENCH_RUNS     runs per side (default 5)
//	BENCH_CASES    comma-separated cases to run: no-artifacts, 3x1MiB,
//	               200x10KiB, 1GiB, ownership, sbom, sign (default all); "trace" prints the
//	               requests each side makes for 200 x 10 KiB
//	BENCH_BIG_MIB  size of the big artifact in MiB (default 1024)
//	BENCH_OUT      output directory (default ./out/bench)
//	BENCH_VERBOSE  1 to print every command
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

var verbose = os.Getenv("BENCH_VERBOSE") == "1"

// report is the JSON written under out/bench.
type report struct {
	Time    time.Time    `json:"time"`
	Machine machine      `json:"machine"`
	Runs    int          `json:"runs"`
	Cases   []caseResult `json:"cases"`
}

type machine struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpu_model"`
	Kernel    string  `json:"kernel"`
	MemMiB    int64   `json:"mem_mib"`
	Go        string  `json:"go"`
	Registry  string  `json:"registry"`
	SHA256GiB float64 `json:"sha256_gib_per_s,omitempty"` // Go's crypto/sha256 streaming the big file
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	os.Exit(run())
}

func run() (code int) {
	cwd, _ := os.Getwd()
	setDefault(harness.EnvLifecycleDir, filepath.Join(cwd, "out", "lifecycle"))
	setDefault(harness.EnvToolsBin, filepath.Join(cwd, "tools", "bin"))
	runs := envInt("BENCH_RUNS", 5)
	bigMiB := envInt("BENCH_BIG_MIB", 1024)
	outDir := os.Getenv("BENCH_OUT")
	if outDir == "" {
		outDir = filepath.Join(cwd, "out", "bench")
	}
	selected := map[string]bool{}
	for _, c := range strings.Split(os.Getenv("BENCH_CASES"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			selected[c] = true
		}
	}

	t, err := newTB()
	if err != nil {
		log.Print(err)
		return 1
	}
	defer t.cleanup()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			log.Printf("fatal: %s", f)
			code = 1
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		log.Print("interrupted; stopping the registry")
		t.cleanup()
		os.Exit(130)
	}()

	b := &bench{t: t, lifecycle: harness.LifecycleDir(t), oras: harness.Tool(t, "oras")}
	reg := harness.StartDistribution(t)
	b.regHost, b.regPID = reg.Host, reg.PID
	b.runImage = fixture.PushRunImage(t, reg.Host+"/run")
	fmt.Printf("registry: distribution 2.8 (%s) on %s, pid %d; %d runs per side\n", harness.Tool(t, "docker-registry"), reg.Host, reg.PID, runs)

	rep := report{Time: time.Now().UTC(), Machine: describeMachine(), Runs: runs}
	rep.Machine.Registry = "Debian docker-registry (distribution 2.8), filesystem storage, 127.0.0.1"

	all := []struct {
		name string
		run  func(*bench, int) []caseResult
	}{
		{"no-artifacts", (*bench).caseNoArtifacts},
		{"3x1MiB", (*bench).caseSmall},
		{"200x10KiB", (*bench).caseMany},
		{"1GiB", func(b *bench, runs int) []caseResult { return b.caseBig(runs, bigMiB, &rep.Machine) }},
		{"ownership", (*bench).caseOwnership},
		{"sbom", (*bench).caseSBOM},
		{"sign", (*bench).caseSign},
	}
	if selected["trace"] { // diagnostic only: requests per side
		all = append(all, struct {
			name string
			run  func(*bench, int) []caseResult
		}{"trace", (*bench).caseTrace})
	}
	for _, c := range all {
		if len(selected) > 0 && !selected[c.name] {
			continue
		}
		fmt.Printf("\n== %s\n", c.name)
		for _, r := range c.run(b, runs) {
			r.print()
			rep.Cases = append(rep.Cases, r)
		}
	}

	fmt.Println()
	printTable(rep.Cases)
	if err := writeReport(outDir, rep); err != nil {
		log.Print(err)
		return 1
	}
	return 0
}

func writeReport(dir string, rep report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	name := filepath.Join(dir, "results-"+rep.Time.Format("20060102T150405Z")+".json")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), data, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and latest.json\n", name)
	return nil
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				m.CPUModel = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var b []byte
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		m.Kernel = string(b)
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		m.MemMiB = int64(si.Totalram) * int64(si.Unit) >> 20
	}
	return m
}

func setDefault(key, value string) {
	if os.Getenv(key) == "" {
		os.Setenv(key, value)
	}
}

func envInt(key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		log.Fatalf("%s=%q: want a positive integer", key, v)
	}
	return n
}
