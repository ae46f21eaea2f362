//go:build acceptance

package acceptance_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// hostileBound is how long an export may take on hostile input: each case
// ends in an error or a warning long before it.
const hostileBound = 30 * time.Second

// Declarations that ask for unbounded work are refused at validation, with
// exit 63, an error naming the buildpack, the layer and the file, nothing
// pushed, and in bounded time.
func TestExportRefusesUnboundedDeclarations(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	const typ = "type = \"application/vnd.example.v1\"\n"
	var manyArtifacts, manyFiles strings.Builder
	for i := range 1001 {
		fmt.Fprintf(&manyArtifacts, "[[artifact]]\ntag = \"a%d\"\nfile = \"a.txt\"\n%s", i, typ)
	}
	manyFiles.WriteString("[[artifact]]\ntag = \"a\"\n" + typ)
	for range 1001 {
		manyFiles.WriteString("[[artifact.files]]\npath = \"a.txt\"\n")
	}
	for _, tc := range []struct {
		name  string
		toml  string
		setup func(t *testing.T, layer string)
		want  string
	}{
		{name: "too many artifacts", toml: manyArtifacts.String(), want: "1001 artifacts declared, more than 1000 per export"},
		{name: "too many files", toml: manyFiles.String(), want: "1001 files, more than 1000 per artifact"},
		{name: "annotations too large", toml: "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\n" + typ + "[artifact.annotations]\nk = \"" + strings.Repeat("v", 70000) + "\"\n",
			want: "[artifact.annotations] holds 70001 bytes, more than 65536"},
		{name: "config too large", toml: "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\nconfig = \"c.json\"\n[artifact.labels]\nConfigMediaType = \"application/vnd.example.config.v1+json\"\n",
			setup: func(t *testing.T, layer string) { must(t, os.Truncate(filepath.Join(layer, "c.json"), 4<<20+1)) },
			want:  `config "c.json": over the limit: 4194305 bytes, more than 4194304`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bp := fixture.Buildpack{ID: "acme/greedy", Version: "2.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true,
				Files: map[string][]byte{"artifacts.toml": []byte(tc.toml), "a.txt": []byte("a"), "c.json": []byte("{}")}}}}
			w := fixture.New(t, run, fixture.Plain(), bp)
			if tc.setup != nil {
				tc.setup(t, filepath.Join(w.Layers, "acme_greedy", "out"))
			}
			start := time.Now()
			out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest")
			if took := time.Since(start); took > hostileBound {
				t.Fatalf("took %v", took)
			}
			if code != platform.CodeInvalidArtifacts {
				t.Fatalf("exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
			}
			for _, s := range []string{`"acme/greedy@2.0.0"`, `layer "out"`, "acme_greedy/out/artifacts.toml", tc.want} {
				if !strings.Contains(out, s) {
					t.Fatalf("error does not name %q:\n%s", s, out)
				}
			}
			if repos := catalog(t, reg.Host); !slices.Equal(repos, []string{"run"}) {
				t.Fatalf("something was pushed: repositories %v", repos)
			}
		})
	}
}

// A digest cache that a buildpack replaced with a FIFO or a link to
// /dev/zero is ignored with one warning; the export succeeds in bounded time.
func TestExportIgnoresHostileDigestCache(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	for _, tc := range []struct {
		name  string
		plant func(path string) error
		want  string
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "a named pipe (FIFO)"},
		{"symlink to /dev/zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "a symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := fixture.New(t, run, fixture.Plain(), fixture.Samples()[2])
			cache := filepath.Join(w.Layers, ".cnb-artifacts", "digests.json")
			must(t, os.MkdirAll(filepath.Dir(cache), 0o755))
			must(t, tc.plant(cache))
			start := time.Now()
			out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest")
			if took := time.Since(start); took > hostileBound {
				t.Fatalf("took %v", took)
			}
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			want := "Ignored the artifacts digest cache " + cache + ": not a regular file: " + tc.want
			if strings.Count(out, want) != 1 {
				t.Fatalf("want the warning %q once:\n%s", want, out)
			}
			rep := readReport(t, w.Report)
			if len(rep.Artifacts) != 1 {
				t.Fatalf("report has %d artifacts", len(rep.Artifacts))
			}
			head(t, rep.Artifacts[0].Refs[0])
			if fi, err := os.Lstat(cache); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("the cache file was not replaced by a good one: %v, %v", fi, err)
			}
		})
	}
}

// An artifact file swapped for a FIFO after validation (a buildpack process
// left running can do that) fails the export in bounded time, with an error
// naming the file, and no tag moves.
func TestExportArtifactSwappedForFIFO(t *testing.T) {
	exportSwappingArtifact(t, "named pipe", func(file string) {
		fifo := file + ".fifo"
		must(t, syscall.Mkfifo(fifo, 0o644))
		must(t, os.Rename(fifo, file))
	})
}

// [R2.5-4] An artifact file swapped after validation for a symbolic link out
// of the layer directory is refused the same way: the export fails in
// bounded time naming the file, nothing of the link's target is published,
// and no tag moves.
func TestExportArtifactSwappedForSymlink(t *testing.T) {
	exportSwappingArtifact(t, "symbolic link", func(file string) {
		link := file + ".link"
		must(t, os.Symlink("/etc/passwd", link))
		must(t, os.Rename(link, file))
	})
}

// exportSwappingArtifact exports the junit sample and, once the exporter has
// validated the declarations (when it adds the image's labels, just before
// it saves the image and reads the artifact files), calls swap on the
// artifact file. The export must fail in bounded time with an error that
// names the file and says want, and move no tag.
func exportSwappingArtifact(t *testing.T, want string, swap func(file string)) {
	t.Helper()
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	w := fixture.New(t, run, fixture.Plain(), fixture.Samples()[2])
	// A layer that is neither launch, build nor cache is <layer>.ignore.
	file := filepath.Join(w.Layers, "examples_tests", "report.ignore", "junit.xml")
	dir := harness.LifecycleDir(t)
	cmd := exec.Command(harness.Binary(t, "exporter"), append(w.Args(filepath.Join(dir, "launcher")), reg.Host+"/app:latest")...)
	cmd.Env = append(w.Env("0.13"), sourceDateEpoch)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	var out strings.Builder
	swapped := false
	sc := bufio.NewScanner(pr)
	deadline := time.AfterFunc(hostileBound, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		// The declarations were validated when the exporter started; the
		// labels are added just before the image is saved, and the
		// artifact files are read while it is saved.
		if !swapped && strings.Contains(line, "Adding label") {
			swap(file)
			swapped = true
		}
	}
	err := <-done
	if !swapped {
		t.Fatalf("the exporter never added a label:\n%s", out.String())
	}
	if err == nil {
		t.Fatalf("the export succeeded with the artifact file swapped:\n%s", out.String())
	}
	if cmd.ProcessState.ExitCode() < 0 {
		t.Fatalf("the exporter hung on the swapped file and was killed after %v:\n%s", hostileBound, out.String())
	}
	if !strings.Contains(out.String(), "junit.xml") || !strings.Contains(out.String(), want) {
		t.Fatalf("the error does not name the file and %q:\n%s", want, out.String())
	}
	resp, err := http.Get("http://" + reg.Host + "/v2/app/tags/list")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"tags":[`) {
		t.Fatalf("a tag moved: %s", body)
	}
	t.Logf("exit %d:\n%s", cmd.ProcessState.ExitCode(), out.String())
}

// A hard link in a layer to a file the CNB user cannot read publishes
// nothing of it: the exporter reads the layers directory as the CNB user, so
// the link gives no access the user lacks. Validation opens every file and
// refuses the export (exit 63) before anything is pushed. (With the kernel's
// protected_hardlinks, the default, the CNB user cannot even make the link;
// the test makes it as root.)
func TestExportRefusesUnreadableHardLink(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	bp := fixture.Buildpack{ID: "acme/leak", Version: "1.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true,
		Files: map[string][]byte{"artifacts.toml": []byte("[[artifact]]\ntag = \"leak\"\nfile = \"leak.txt\"\ntype = \"application/vnd.example.v1\"\n")}}}}
	w := fixture.New(t, run, fixture.Plain(), bp)
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "shadow")
	must(t, os.WriteFile(secret, []byte("root-only-secret"), 0o600))
	must(t, os.Link(secret, filepath.Join(w.Layers, "acme_leak", "out", "leak.txt")))
	// The CNB user (nobody) needs the workspace, as a platform gives it.
	for d := filepath.Dir(w.Dir); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755))
	}
	must(t, filepath.Walk(w.Dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == filepath.Join(w.Layers, "acme_leak", "out", "leak.txt") {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o777)
		}
		return os.Chmod(p, 0o666)
	}))
	out, code := export(t, w, false, "0.13", []string{"CNB_USER_ID=65534", "CNB_GROUP_ID=65534"}, reg.Host+"/app:latest")
	if code != platform.CodeInvalidArtifacts {
		t.Fatalf("exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
	}
	for _, s := range []string{`"acme/leak@1.0.0"`, `file "leak.txt"`, "permission denied"} {
		if !strings.Contains(out, s) {
			t.Fatalf("error does not name %q:\n%s", s, out)
		}
	}
	if repos := catalog(t, reg.Host); !slices.Equal(repos, []string{"run"}) {
		t.Fatalf("something was pushed: repositories %v", repos)
	}
}
