package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/log"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// captureLog sends cmd.DefaultLogger to a buffer for the test. Tests that
// use it are not parallel: the logger is a global.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	saved := cmd.DefaultLogger
	cmd.DefaultLogger = log.NewDefaultLogger(&buf)
	t.Cleanup(func() { cmd.DefaultLogger = saved })
	return &buf
}

func published(tag, layer string, refs []string, skipped string) exporter.Published {
	a := &artifacts.Artifact{Declaration: artifacts.Declaration{
		Buildpack: artifacts.Buildpack{ID: "acme/bp", Version: "1.2.3"}, Layer: layer, Tag: tag, ArtifactType: "application/vnd.acme." + tag,
	}, CarriedFrom: map[bool]string{true: "r/app@sha256:aa"}[tag == "carried"]}
	return exporter.Published{Artifact: a, Manifest: artifacts.Manifest{Descriptor: v1.Descriptor{Size: int64(100 + len(tag))}}, Refs: refs, Skipped: skipped}
}

// report.toml's [[artifacts]]: one entry per artifact, published, skipped or
// carried, with every field; a result that skipped every artifact (a daemon
// export without a repository) gives each the reason and no refs; no result
// gives none.
func TestArtifactReports(t *testing.T) {
	t.Parallel()
	res := &exporter.Result{Artifacts: []exporter.Published{
		published("wasm", "l1", []string{"r/app:wasm@sha256:11", "s/app:wasm@sha256:11"}, ""),
		published("junit", "l2", []string{"r/app:junit@sha256:22"}, "s/app: refused (403)"),
		published("carried", "l3", []string{"r/app:carried@sha256:33"}, ""),
	}}
	got := artifactReports(res)
	want := []platform.ArtifactReport{
		{Buildpack: "acme/bp", BuildpackVersion: "1.2.3", Layer: "l1", Tag: "wasm", Type: "application/vnd.acme.wasm", ManifestSize: 104,
			Refs: []string{"r/app:wasm@sha256:11", "s/app:wasm@sha256:11"}},
		{Buildpack: "acme/bp", BuildpackVersion: "1.2.3", Layer: "l2", Tag: "junit", Type: "application/vnd.acme.junit", ManifestSize: 105,
			Refs: []string{"r/app:junit@sha256:22"}, Skipped: "s/app: refused (403)"},
		{Buildpack: "acme/bp", BuildpackVersion: "1.2.3", Layer: "l3", Tag: "carried", Type: "application/vnd.acme.carried", ManifestSize: 107,
			Refs: []string{"r/app:carried@sha256:33"}, CarriedFrom: "r/app@sha256:aa"},
	}
	if !slices.EqualFunc(got, want, reportEqual) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	res.Skipped = "no daemon repository"
	got = artifactReports(res)
	if len(got) != 3 {
		t.Fatalf("skipped: %d entries, want 3", len(got))
	}
	for i, r := range got {
		w := want[i]
		w.ManifestSize, w.Refs, w.Skipped, w.CarriedFrom = 0, []string{}, "no daemon repository", ""
		if !reportEqual(r, w) || r.Refs == nil {
			t.Errorf("skipped entry %d: got %+v, want %+v (refs empty, not nil)", i, r, w)
		}
	}

	if got := artifactReports(nil); got != nil {
		t.Fatalf("no result: got %+v", got)
	}
	if got := artifactReports(&exporter.Result{}); len(got) != 0 {
		t.Fatalf("no artifacts: got %+v", got)
	}
}

func reportEqual(a, b platform.ArtifactReport) bool {
	return a.Buildpack == b.Buildpack && a.BuildpackVersion == b.BuildpackVersion && a.Layer == b.Layer && a.Tag == b.Tag &&
		a.Type == b.Type && a.ManifestSize == b.ManifestSize && slices.Equal(a.Refs, b.Refs) && a.Skipped == b.Skipped && a.CarriedFrom == b.CarriedFrom
}

// A reused layer whose artifacts could not be carried is reported under
// best-effort with its buildpack, layer and the reason, no tag and no refs.
func TestNotCarried(t *testing.T) {
	t.Parallel()
	p := exporter.CarryProblem{Layer: artifacts.ReusedLayer{Buildpack: artifacts.Buildpack{ID: "acme/bp", Version: "2.0.0"}, Layer: "deps"},
		Err: errors.New("MANIFEST_UNKNOWN")}
	got := notCarried(p)
	want := platform.ArtifactReport{Buildpack: "acme/bp", BuildpackVersion: "2.0.0", Layer: "deps", Refs: []string{}, Skipped: "not carried: MANIFEST_UNKNOWN"}
	if !reportEqual(got, want) || got.Refs == nil {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// The carry error lists every layer, one a line, then says nothing was
// written and how to publish without them.
func TestCarryErrorMessage(t *testing.T) {
	t.Parallel()
	layer := func(l string) artifacts.ReusedLayer {
		return artifacts.ReusedLayer{Buildpack: artifacts.Buildpack{ID: "acme/bp", Version: "1"}, Layer: l}
	}
	err := &carryError{probs: []exporter.CarryProblem{{Layer: layer("a"), Err: errors.New("503")}, {Layer: layer("b"), Err: errors.New("gone")}}}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %q", err.Error())
	}
	for i, want := range []string{`layer "a"`, `layer "b"`, "nothing was written; set " + platform.EnvPolicy + "=" + string(platform.PolicyBestEffort)} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d %q lacks %q", i+1, lines[i], want)
		}
	}
	if !strings.Contains(lines[0], "503") || !strings.Contains(lines[1], "gone") {
		t.Errorf("the reasons are missing: %q", err.Error())
	}
	read := &readArtifactsError{errors.New("503 Service Unavailable")}
	if got := read.Error(); got != "reading the artifacts to publish again: 503 Service Unavailable; nothing was written" {
		t.Errorf("readArtifactsError: %q", got)
	}
}

// The summary after the images': every ref with its type, and for an
// artifact skipped somewhere, where and why; nothing when there is no
// artifact, or when the artifacts were skipped as a whole.
func TestLogPublished(t *testing.T) {
	buf := captureLog(t)
	res := &exporter.Result{Artifacts: []exporter.Published{
		published("wasm", "l1", []string{"r/app:wasm@sha256:11", "s/app:wasm@sha256:11"}, ""),
		published("junit", "l2", nil, "r/app: refused (403)"),
	}}
	logPublished(res)
	want := "*** Artifacts:\n" +
		"      r/app:wasm@sha256:11 (application/vnd.acme.wasm)\n" +
		"      s/app:wasm@sha256:11 (application/vnd.acme.wasm)\n" +
		"      skipped 'acme/bp:l2' (tag 'junit'): r/app: refused (403)\n"
	if got := buf.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	for _, res := range []*exporter.Result{nil, {}, {Artifacts: res.Artifacts, Skipped: "no daemon repository"}} {
		buf.Reset()
		logPublished(res)
		if buf.Len() != 0 {
			t.Errorf("%+v: logged %q", res, buf.String())
		}
	}
}
