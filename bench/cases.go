package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// caseResult is one case's measurements and verdict.
type caseResult struct {
	Name    string              `json:"name"`
	Ours    string              `json:"ours"`
	Against string              `json:"against"`
	Sides   map[string][]sample `json:"sides"`
	Medians map[string]float64  `json:"medians_s"`
	// Value and Baseline are what the target compares, in Unit.
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline,omitempty"`
	Unit     string  `json:"unit"`
	Ratio    float64 `json:"ratio,omitempty"`
	Target   string  `json:"target"`
	Met      bool    `json:"met"`
	// PeakRSSMiB is the largest peak RSS of our exporter over the runs.
	PeakRSSMiB float64        `json:"peak_rss_mib"`
	Extra      map[string]any `json:"extra,omitempty"`
	order      []string
}

func newCase(name, ours, against string, sides ...string) *caseResult {
	c := &caseResult{Name: name, Ours: ours, Against: against, Sides: map[string][]sample{}, Medians: map[string]float64{}, Extra: map[string]any{}, order: sides}
	return c
}

func (c *caseResult) record(side string, s sample) { c.Sides[side] = append(c.Sides[side], s) }

// finish computes the medians and the peak RSS of the sides named ours.
func (c *caseResult) finish(ours ...string) {
	for side, ss := range c.Sides {
		c.Medians[side] = median(secondsOf(ss))
	}
	for _, side := range ours {
		for _, s := range c.Sides[side] {
			c.PeakRSSMiB = max(c.PeakRSSMiB, float64(s.MaxRSSKiB)/1024)
		}
	}
}

// ratioTarget sets Value/Baseline and the verdict of value/baseline <= max.
func (c *caseResult) ratioTarget(value, baseline, limit float64) {
	c.Value, c.Baseline, c.Unit = value, baseline, "s"
	c.Ratio = value / baseline
	c.Target = fmt.Sprintf("ratio <= %.2f", limit)
	c.Met = c.Ratio <= limit
}

func (c *caseResult) print() {
	for _, side := range c.order {
		ss := c.Sides[side]
		if len(ss) == 0 {
			continue
		}
		var parts []string
		for _, s := range ss {
			parts = append(parts, fmt.Sprintf("%.3f", s.Seconds))
		}
		rss := ""
		if m := maxRSS(ss); m > 0 {
			rss = fmt.Sprintf(", peak RSS %.1f MiB", float64(m)/1024)
		}
		fmt.Printf("  %-14s median %7.3f s  [%s]  cpu %.2f s, registry cpu %.2f s%s\n", side, c.Medians[side],
			strings.Join(parts, " "), median(cpuOf(ss)), median(regCPUOf(ss)), rss)
	}
	verdict := "MISSED"
	if c.Met {
		verdict = "met"
	}
	switch c.Unit {
	case "s":
		fmt.Printf("  %s: %.3f s vs %s: %.3f s; ratio %.3f (target %s): %s\n", c.Ours, c.Value, c.Against, c.Baseline, c.Ratio, c.Target, verdict)
	default:
		fmt.Printf("  %s: %.1f %s (target %s): %s\n", c.Ours, c.Value, c.Unit, c.Target, verdict)
	}
}

func printTable(cs []caseResult) {
	fmt.Println("| case | ours | against | ratio / value | target | verdict |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for _, c := range cs {
		verdict := "missed"
		if c.Met {
			verdict = "met"
		}
		switch c.Unit {
		case "s":
			fmt.Printf("| %s | %.2f s | %.2f s | %.2f | %s | %s |\n", c.Name, c.Value, c.Baseline, c.Ratio, c.Target, verdict)
		default:
			fmt.Printf("| %s | %.1f %s | | | %s | %s |\n", c.Name, c.Value, c.Unit, c.Target, verdict)
		}
	}
}

// alternate runs fns once per run, rotating their order each run.
func alternate(runs int, fns ...func(i int)) {
	for i := range runs {
		for k := range fns {
			fns[(i+k)%len(fns)](i)
		}
	}
}

func (b *bench) must(s sample, err error) sample {
	if err != nil {
		b.t.Fatalf("%v", err)
	}
	return s
}

// artifactBP is the buildpack whose non-launch layer "out" holds the files
// and the artifacts.toml.
const artifactBP = "bench/artifacts"

func (b *bench) layerDir(w *fixture.Workspace) string {
	return filepath.Join(w.Layers, strings.ReplaceAll(artifactBP, "/", "_"), "out.ignore")
}

// workspace makes a workspace with the plain launch layer and, when files is
// not empty, the artifact layer.
func (b *bench) workspace(files map[string][]byte) *fixture.Workspace {
	bps := []fixture.Buildpack{fixture.Plain()}
	if len(files) > 0 {
		bps = append(bps, fixture.Buildpack{ID: artifactBP, Version: "1.0.0", Layers: []fixture.Layer{{Name: "out", Files: files}}})
	}
	return fixture.New(b.t, b.runImage, bps...)
}

func (b *bench) ref(kase, side string, i int) string {
	return fmt.Sprintf("%s/%s-%s-%d:latest", b.regHost, kase, side, i)
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8(seedOf(seed)))
	buf := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < n; k++ {
			buf[i+k] = byte(v >> (8 * k))
		}
	}
	return buf
}

func seedOf(n uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(n >> (8 * i))
	}
	copy(s[8:], "cnb-artifacts-bench")
	return s
}

// artifactFiles makes n artifacts of size bytes each, one file each, all
// declared in one artifacts.toml.
func artifactFiles(n, size int) (map[string][]byte, []string) {
	files := map[string][]byte{}
	var toml strings.Builder
	var names []string
	for i := range n {
		f := fmt.Sprintf("f%03d.bin", i)
		names = append(names, f)
		files[f] = randomBytes(uint64(i+1), size)
		fmt.Fprintf(&toml, "[[artifact]]\ntag = \"a%03d\"\ntype = \"application/vnd.cnb.bench.v1\"\nfile = %q\n\n", i, f)
	}
	files["artifacts.toml"] = []byte(toml.String())
	return files, names
}

func (b *bench) caseNoArtifacts(runs int) []caseResult {
	c := newCase("no artifacts", "our exporter", "stock exporter", "ours", "stock")
	w := b.workspace(nil)
	// A run takes 0.3 s, and the target is 3 %: four times the runs.
	alternate(4*runs,
		func(i int) { c.record("ours", b.must(b.export(w, false, b.ref("noart", "ours", i)))) },
		func(i int) { c.record("stock", b.must(b.export(w, true, b.ref("noart", "stock", i)))) },
	)
	c.finish("ours")
	c.ratioTarget(c.Medians["ours"], c.Medians["stock"], 1.03)
	cpu := median(cpuOf(c.Sides["ours"])) / median(cpuOf(c.Sides["stock"]))
	c.Extra["cpu_ratio"] = cpu
	fmt.Printf("  exporter CPU time, ours / stock (medians): %.3f\n", cpu)
	return []caseResult{*c}
}

// caseFiles compares one export with n artifacts of size bytes against a
// stock export plus orasPushes(names) (each a list of files for one push).
func (b *bench) caseFiles(name, kase string, n, size int, perFile bool, runs int, limit float64) caseResult {
	against := "stock export + 1 oras push"
	if perFile {
		against = fmt.Sprintf("stock export + %d oras push", n)
	}
	c := newCase(name, "one export with artifacts", against, "ours", "stock", "oras", "stock+oras")
	files, names := artifactFiles(n, size)
	stockWS := b.workspace(files)
	alternate(runs,
		func(i int) {
			w := b.workspace(files) // fresh: no digest cache, nothing in the repository
			c.record("ours", b.must(b.export(w, false, b.ref(kase, "ours", i))))
			os.RemoveAll(w.Dir)
		},
		func(i int) {
			ref := b.ref(kase, "stock", i)
			total := b.must(b.export(stockWS, true, ref))
			c.record("stock", total)
			repo := strings.TrimSuffix(ref, ":latest")
			var o sample
			if perFile {
				for k, f := range names {
					o.add(b.must(b.orasPush(b.layerDir(stockWS), fmt.Sprintf("%s:a%03d", repo, k), f)))
				}
			} else {
				o = b.must(b.orasPush(b.layerDir(stockWS), repo+":files", names...))
			}
			c.record("oras", o)
			total.add(o)
			c.record("stock+oras", total)
		},
	)
	c.finish("ours")
	c.ratioTarget(c.Medians["ours"], c.Medians["stock+oras"], limit)
	return *c
}

func (b *bench) caseSmall(runs int) []caseResult {
	return []caseResult{b.caseFiles("3 x 1 MiB", "small", 3, 1<<20, true, runs, 0.5)}
}

func (b *bench) caseMany(runs int) []caseResult {
	return []caseResult{b.caseFiles("200 x 10 KiB", "many", 200, 10<<10, false, runs, 1.0)}
}

const bigTOML = "[[artifact]]\ntag = \"big\"\ntype = \"application/vnd.cnb.bench.v1\"\nfile = \"big.bin\"\n"

// writeBig writes mib MiB of seeded random bytes to path.
func writeBig(path string, mib int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewChaCha8(seedOf(42)))
	buf := make([]byte, 1<<20)
	for range mib {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			buf[i], buf[i+1], buf[i+2], buf[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
			buf[i+4], buf[i+5], buf[i+6], buf[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
		}
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// sha256Rate hashes path once, streaming, and returns GiB/s.
func sha256Rate(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	n, err := io.CopyBuffer(sha256.New(), f, make([]byte, 1<<20))
	if err != nil {
		return 0, err
	}
	return float64(n) / (1 << 30) / time.Since(start).Seconds(), nil
}

// bigWorkspace makes a workspace whose artifact layer links the big file.
func (b *bench) bigWorkspace(big string) *fixture.Workspace {
	w := b.workspace(map[string][]byte{"artifacts.toml": []byte(bigTOML)})
	if err := os.Link(big, filepath.Join(b.layerDir(w), "big.bin")); err != nil {
		b.t.Fatalf("link big file: %v", err)
	}
	return w
}

func (b *bench) caseBig(runs, mib int, m *machine) []caseResult {
	dir := b.t.TempDir()
	big := filepath.Join(dir, "big.bin")
	start := time.Now()
	if err := writeBig(big, mib); err != nil {
		b.t.Fatalf("write big file: %v", err)
	}
	defer os.Remove(big)
	fmt.Printf("  generated %d MiB in %.1f s\n", mib, time.Since(start).Seconds())
	var rates []float64
	for range 3 {
		r, err := sha256Rate(big)
		if err != nil {
			b.t.Fatalf("%v", err)
		}
		rates = append(rates, r)
	}
	m.SHA256GiB = median(rates)
	fmt.Printf("  Go crypto/sha256 streaming the file (page cache): %.2f GiB/s\n", m.SHA256GiB)
	size := fmt.Sprintf("%d MiB", mib)
	if mib == 1024 {
		size = "1 GiB"
	}

	// Fresh: every run writes to new repositories, from a new workspace.
	c := newCase("one "+size+" artifact", "export with it minus export without it", "oras push", "ours-with", "ours-without", "oras")
	plain := b.workspace(nil)
	alternate(runs,
		func(i int) {
			w := b.bigWorkspace(big)
			c.record("ours-with", b.must(b.export(w, false, b.ref("big", "with", i))))
			os.RemoveAll(w.Dir)
		},
		func(i int) { c.record("ours-without", b.must(b.export(plain, false, b.ref("big", "without", i)))) },
		func(i int) {
			c.record("oras", b.must(b.orasPush(dir, fmt.Sprintf("%s/big-oras-%d:big", b.regHost, i), "big.bin")))
		},
	)
	c.finish("ours-with")
	c.ratioTarget(c.Medians["ours-with"]-c.Medians["ours-without"], c.Medians["oras"], 0.9)

	rss := newCase(size+" peak memory", "peak RSS of our exporter", "", "ours-with")
	rss.Sides["ours-with"] = c.Sides["ours-with"]
	rss.finish("ours-with")
	rss.Value, rss.Unit = rss.PeakRSSMiB, "MiB"
	rss.Target = "<= 100 MiB"
	rss.Met = rss.PeakRSSMiB <= 100

	return []caseResult{*c, *rss, b.caseProgress(big, size), b.caseReexport(runs, big, dir, size)}
}

// caseProgress exports the big file once through a proxy that passes
// uploads at 1 Gbit/s, a LAN link (on loopback the upload can end before
// the first progress line is due), and counts the progress lines
// (docs/spec.md R11-3: one every 5 s while an upload lasts).
func (b *bench) caseProgress(big, size string) caseResult {
	p, err := harness.StartCountingProxy(b.regHost)
	if err != nil {
		b.t.Fatalf("proxy: %v", err)
	}
	defer p.Close()
	const rate = 1e9 / 8
	p.SetUploadRate(rate)
	c := newCase(size+" progress at 1 Gbit/s", "progress lines of one export", "", "ours-with")
	w := b.bigWorkspace(big)
	defer os.RemoveAll(w.Dir)
	s := b.must(b.export(w, false, p.Host+"/progress:latest"))
	c.record("ours-with", s)
	c.finish("ours-with")
	var lines []string
	for _, l := range strings.Split(s.Output, "\n") {
		if strings.Contains(l, "Uploading ") {
			lines = append(lines, l)
		}
	}
	fmt.Printf("  export through a 1 Gbit/s link: %.1f s, %d progress lines:\n", s.Seconds, len(lines))
	for _, l := range lines {
		fmt.Printf("    %s\n", l)
	}
	want := int(s.Seconds / 5) // at most; the first export step and the manifests take time too
	c.Extra["lines"] = lines
	c.Value, c.Unit = float64(len(lines)), "lines"
	c.Target = fmt.Sprintf(">= 1, <= %d (one per 5 s)", max(want, 1))
	c.Met = len(lines) >= 1 && len(lines) <= max(want, 1)
	return *c
}

// caseReexport exports the same workspace again, through a proxy that counts
// the blob bytes uploaded, and compares the added time with oras's repeat
// push of the same file.
func (b *bench) caseReexport(runs int, big, dir, size string) caseResult {
	p, err := harness.StartCountingProxy(b.regHost)
	if err != nil {
		b.t.Fatalf("proxy: %v", err)
	}
	defer p.Close()
	c := newCase("re-export, same "+size, "added time of a re-export", "oras repeat push", "ours-with", "ours-without", "oras")
	w := b.bigWorkspace(big)
	plain := b.workspace(nil)
	with, without, oras := p.Host+"/reexport:latest", p.Host+"/reexport-base:latest", p.Host+"/reexport-oras:big"
	// The digest cache ignores files changed less than 2 s before they are
	// read (they could change again unnoticed within one timestamp tick);
	// linking the file just now changed its ctime.
	time.Sleep(2500 * time.Millisecond)
	// The first export and push upload everything; they are not measured.
	first := p.Uploaded()
	b.must(b.export(w, false, with))
	c.Extra["first_export_bytes"] = p.Uploaded() - first
	b.must(b.export(plain, false, without))
	b.must(b.orasPush(dir, oras, "big.bin"))

	var oursBytes, orasBytes []int64
	alternate(runs,
		func(int) {
			n := p.Uploaded()
			c.record("ours-with", b.must(b.export(w, false, with)))
			oursBytes = append(oursBytes, p.Uploaded()-n)
		},
		func(int) { c.record("ours-without", b.must(b.export(plain, false, without))) },
		func(int) {
			n := p.Uploaded()
			c.record("oras", b.must(b.orasPush(dir, oras, "big.bin")))
			orasBytes = append(orasBytes, p.Uploaded()-n)
		},
	)
	c.Extra["ours_blob_bytes_uploaded"] = oursBytes
	c.Extra["oras_blob_bytes_uploaded"] = orasBytes
	c.finish("ours-with")
	c.ratioTarget(c.Medians["ours-with"]-c.Medians["ours-without"], c.Medians["oras"], 0.5)
	zero := !slices.ContainsFunc(oursBytes, func(n int64) bool { return n != 0 })
	c.Target = "0 bytes uploaded; " + c.Target
	c.Met = c.Met && zero
	fmt.Printf("  blob bytes uploaded per re-export: ours %v, oras %v\n", oursBytes, orasBytes)
	return *c
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secondsOf(ss []sample) []float64 {
	var out []float64
	for _, s := range ss {
		out = append(out, s.Seconds)
	}
	return out
}

func cpuOf(ss []sample) []float64 {
	var out []float64
	for _, s := range ss {
		out = append(out, s.CPUSeconds)
	}
	return out
}

func regCPUOf(ss []sample) []float64 {
	var out []float64
	for _, s := range ss {
		out = append(out, s.RegistryCPU)
	}
	return out
}

func maxRSS(ss []sample) int64 {
	var m int64
	for _, s := range ss {
		m = max(m, s.MaxRSSKiB)
	}
	return m
}

// caseTrace exports the 200 x 10 KiB workspace and pushes it with oras
// through the counting proxy and prints the requests each side made (not in
// the default cases).
func (b *bench) caseTrace(int) []caseResult {
	p, err := harness.StartCountingProxy(b.regHost)
	if err != nil {
		b.t.Fatalf("proxy: %v", err)
	}
	defer p.Close()
	files, names := artifactFiles(200, 10<<10)
	w := b.workspace(files)
	for _, run := range []struct {
		name string
		do   func() (sample, error)
	}{
		{"ours", func() (sample, error) { return b.export(w, false, p.Host+"/trace-ours:latest") }},
		{"ours again", func() (sample, error) { return b.export(w, false, p.Host+"/trace-ours:latest") }},
		{"stock", func() (sample, error) { return b.export(w, true, p.Host+"/trace-stock:latest") }},
		{"oras", func() (sample, error) { return b.orasPush(b.layerDir(w), p.Host+"/trace-oras:files", names...) }},
	} {
		p.Reset()
		s := b.must(run.do())
		fmt.Printf("  %s: %.3f s, registry cpu %.2f s, requests %v\n", run.name, s.Seconds, s.RegistryCPU, p.Counts())
	}
	return nil
}
