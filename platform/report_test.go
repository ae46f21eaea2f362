package platform_test

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/buildpack"
	"github.com/buildpacks/lifecycle/platform/files"

	"github.com/cnb-artifacts/lifecycle/platform"
)

var update = flag.Bool("update", false, "rewrite golden files")

func imageReport() files.ImageReport {
	return files.ImageReport{
		Tags:         []string{"127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:v1"},
		Digest:       "sha256:1111111111111111111111111111111111111111111111111111111111111111",
		ManifestSize: 1234,
	}
}

func sampleReport() *platform.Report {
	return &platform.Report{
		Build: files.BuildReport{BOM: []buildpack.BOMEntry{{Require: buildpack.Require{Name: "node"}, Buildpack: buildpack.GroupElement{ID: "examples/node", Version: "1.0.0"}}}},
		Image: imageReport(),
		Artifacts: []platform.ArtifactReport{
			{
				Buildpack: "examples/wasm", BuildpackVersion: "1.0.0", Layer: "wasm", Tag: "wasm",
				Type: "application/vnd.wasm.config.v0+json", ManifestSize: 812,
				Refs:      []string{"127.0.0.1:5000/app:wasm@sha256:2222222222222222222222222222222222222222222222222222222222222222"},
				Signature: "sha256:5555555555555555555555555555555555555555555555555555555555555555",
			},
			{
				// A buildpack id and a tag that contain the word must not leak
				// it into the file (Tekton greps for it).
				Buildpack: "acme/Digest-tools", BuildpackVersion: "0.1.0", Layer: "digests", Tag: "digest",
				Type: "application/vnd.acme.digest+json", ManifestSize: 400,
				Refs: []string{"127.0.0.1:5000/app:digest@sha256:3333333333333333333333333333333333333333333333333333333333333333"},
			},
			{
				// A reused layer whose previous artifacts could not be
				// carried, under best-effort: recorded, with the reason,
				// whose registry error names the word too.
				Buildpack: "examples/helm", BuildpackVersion: "1.0.0", Layer: "chart", Refs: []string{},
				Skipped: "not carried: reading 127.0.0.1:5000/app@sha256:4444444444444444444444444444444444444444444444444444444444444444: MANIFEST_UNKNOWN: manifest unknown; map[Digest:sha256:4444]",
			},
		},
		ImageSignature: &platform.SignatureReport{
			Signed:    "sha256:1111111111111111111111111111111111111111111111111111111111111111",
			Signature: "sha256:6666666666666666666666666666666666666666666666666666666666666666",
		},
	}
}

// With no artifacts the file is byte-identical to what lifecycle writes.
func TestReportWithoutArtifactsMatchesLifecycle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rep  files.Report
	}{
		{"registry", files.Report{Image: imageReport()}},
		{"daemon", files.Report{Image: files.ImageReport{Tags: []string{"app"}, ImageID: "sha256:abc"}}},
		{"with build", files.Report{Build: sampleReport().Build, Image: imageReport()}},
		{"empty", files.Report{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			stock := filepath.Join(dir, "stock.toml")
			ours := filepath.Join(dir, "ours.toml")
			if err := files.Handler.WriteReport(stock, &tc.rep); err != nil {
				t.Fatal(err)
			}
			if err := platform.WriteReport(ours, &platform.Report{Build: tc.rep.Build, Image: tc.rep.Image}); err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(stock)
			got, _ := os.ReadFile(ours)
			if !bytes.Equal(got, want) {
				t.Fatalf("report differs from lifecycle's\n--- lifecycle\n%s\n--- ours\n%s", want, got)
			}
		})
	}
}

func TestReportGolden(t *testing.T) {
	t.Parallel()
	got, err := sampleReport().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden.toml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("report.toml differs from %s (run with -update if intended)\n%s", golden, got)
	}
}

// kpack decodes report.toml with lifecycle's files.Report; Tekton greps it.
func TestReportConsumers(t *testing.T) {
	t.Parallel()
	want := sampleReport()
	path := filepath.Join(t.TempDir(), "report.toml")
	if err := platform.WriteReport(path, want); err != nil {
		t.Fatal(err)
	}

	t.Run("lifecycle decoder", func(t *testing.T) {
		var rep files.Report
		if _, err := toml.DecodeFile(path, &rep); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rep.Image, want.Image) {
			t.Fatalf("image = %+v, want %+v", rep.Image, want.Image)
		}
		if got := rep.Image.Tags[0] + "@" + rep.Image.Digest; !strings.HasSuffix(got, want.Image.Digest) {
			t.Fatalf("kpack reference %q", got)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		var rep platform.Report
		if _, err := toml.DecodeFile(path, &rep); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rep.Artifacts, want.Artifacts) {
			t.Fatalf("artifacts = %+v\nwant %+v", rep.Artifacts, want.Artifacts)
		}
		if !reflect.DeepEqual(rep.ImageSignature, want.ImageSignature) {
			t.Fatalf("image signature = %+v, want %+v", rep.ImageSignature, want.ImageSignature)
		}
	})
	t.Run("tekton grep digest", func(t *testing.T) {
		// grep "digest" report.toml | cut -d'"' -f2
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var got []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if line := sc.Text(); strings.Contains(line, "digest") {
				got = append(got, strings.Split(line, `"`)[1])
			}
		}
		if len(got) != 1 || got[0] != want.Image.Digest {
			t.Fatalf("grep digest | cut gives %q, want only %q", got, want.Image.Digest)
		}
	})
}

// WriteReport replaces the file by a rename: the old file is never written
// to (a reader holding it open still reads it whole), the new one is a new
// inode with the whole report, mode 0644, and no temporary file is left.
func TestWriteReportReplacesAtomically(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "report.toml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	oldInfo, err := old.Stat()
	if err != nil {
		t.Fatal(err)
	}

	r := sampleReport()
	if err := platform.WriteReport(path, r); err != nil {
		t.Fatal(err)
	}
	want, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("report.toml = %q (%v), want %q", got, err, want)
	}
	if got, err := io.ReadAll(old); err != nil || string(got) != "old" {
		t.Fatalf("the old file was written to: it reads %q (%v), want %q", got, err, "old")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(fi, oldInfo) {
		t.Fatal("report.toml was rewritten in place, not replaced by a rename")
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode = %v, want 0644", fi.Mode())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v (%v)", entries, err)
	}
}

// A report that cannot be put in place is an error, and leaves no
// temporary file.
func TestWriteReportFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "report.toml")
	// A non-empty directory cannot be renamed over.
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := platform.WriteReport(path, sampleReport())
	if err == nil || !strings.HasPrefix(err.Error(), "write report: ") {
		t.Fatalf("err = %v, want a write report error", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	// A directory that cannot be created.
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := platform.WriteReport(filepath.Join(dir, "file", "report.toml"), sampleReport()); err == nil {
		t.Fatal("wrote a report under a regular file")
	}
}

// The report's directory is created when missing.
func TestWriteReportCreatesDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b", "report.toml")
	if err := platform.WriteReport(path, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
