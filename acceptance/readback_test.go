//go:build acceptance

package acceptance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Black-box checks of spec rules that the unit tests check inside the
// packages: here through the built exporter and a real registry, so that a
// lifecycle directory judged by `make conformance` is judged on them too.
// Each test first requires the export to publish artifacts, so that a
// lifecycle that publishes none fails with that message in seconds.

// twoLayers is a buildpack whose two layers declare one artifact each, the
// second layer (lexically) written first.
func twoLayers() fixture.Buildpack {
	decl := func(tag string) map[string][]byte {
		return map[string][]byte{
			"notes.txt":      []byte("notes of " + tag + "\n"),
			"artifacts.toml": fmt.Appendf(nil, "[[artifact]]\ntag = %q\ntype = \"application/vnd.example.notes.v1\"\n[[artifact.files]]\npath = \"notes.txt\"\nmedia-type = \"text/plain\"\n", tag),
		}
	}
	return fixture.Buildpack{ID: "examples/two", Version: "1.0.0", Layers: []fixture.Layer{
		{Name: "b-layer", Files: decl("layer-b")},
		{Name: "a-layer", Files: decl("layer-a")},
	}}
}

// richExport is one export of the samples and twoLayers through a counting
// proxy in front of distribution 2.8 (no referrers API: the fallback index
// is written), to two repositories: app (latest, v1) and other (latest).
type richExport struct {
	reg    *harness.Registry
	proxy  *harness.CountingProxy
	w      *fixture.Workspace
	out    string
	rep    platform.Report
	app    string // proxy host/app
	other  string // proxy host/other
	digest v1.Hash
}

func newRichExport(t *testing.T) *richExport {
	t.Helper()
	reg := harness.StartDistribution(t)
	proxy := harness.NewCountingProxy(t, reg.Host)
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	bps := append(append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...), twoLayers())
	e := &richExport{reg: reg, proxy: proxy, w: fixture.New(t, run, bps...), app: proxy.Host + "/app", other: proxy.Host + "/other"}
	proxy.Reset()
	var code int
	e.out, code = export(t, e.w, false, "0.13", nil, e.app+":latest", e.app+":v1", e.other+":latest")
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, e.out)
	}
	e.rep = readReport(t, e.w.Report)
	if len(e.rep.Artifacts) != 5 {
		t.Fatalf("the exporter published %d artifacts, want the 5 declared (report.toml [[artifacts]]: %+v)\n%s", len(e.rep.Artifacts), e.rep.Artifacts, e.out)
	}
	e.digest = head(t, e.app+":latest")
	return e
}

// refDigest is the digest of a report ref "repo:tag@sha256:...".
func refDigest(ref string) string { return ref[strings.LastIndex(ref, "@")+1:] }

func rawManifest(t *testing.T, ref string) []byte {
	t.Helper()
	r, err := name.ParseReference(ref)
	must(t, err)
	d, err := remote.Get(r)
	if err != nil {
		t.Fatalf("GET %s: %v", ref, err)
	}
	return d.Manifest
}

// topLevelKeys returns the keys of a JSON object in the order written.
func topLevelKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		must(t, err)
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		must(t, dec.Decode(&skip))
	}
	return keys
}

// The artifacts as a client reads them back: in every repository the image
// goes to [R4-1], in declaration order [R2.1-4], their manifests' fields in
// order [R3-2], their configs [R3-4] and annotations [R3-6], the fallback
// index entries [R6-4], and report.toml as kpack [R8-2] and Tekton [R8-3]
// read it.
func TestExportArtifactsReadBack(t *testing.T) {
	e := newRichExport(t)

	t.Run("every repository of the image [R4-1]", func(t *testing.T) {
		for _, a := range e.rep.Artifacts {
			if len(a.Refs) != 2 {
				t.Fatalf("[R4-1] artifact %s has refs %v, want one in app and one in other", a.Tag, a.Refs)
			}
			for i, repo := range []string{e.app, e.other} {
				want := repo + ":" + a.Tag + "@"
				if !strings.HasPrefix(a.Refs[i], want) {
					t.Errorf("[R4-1] artifact %s ref %d is %s, want %s...", a.Tag, i, a.Refs[i], want)
					continue
				}
				if d := head(t, repo+":"+a.Tag); d.String() != refDigest(a.Refs[i]) {
					t.Errorf("[R4-1] %s:%s holds %s, report %s", repo, a.Tag, d, a.Refs[i])
				}
			}
		}
	})

	t.Run("declaration order [R2.1-4]", func(t *testing.T) {
		var got []string
		for _, a := range e.rep.Artifacts {
			got = append(got, a.Tag)
		}
		want := []string{"wasm", "0.1.0", "junit", "layer-a", "layer-b"}
		if !slices.Equal(got, want) {
			t.Errorf("[R2.1-4] report.toml lists the artifacts in order %v, want group order then lexical layer order %v", got, want)
		}
	})

	manifests := map[string][]byte{}
	for _, a := range e.rep.Artifacts {
		manifests[a.Tag] = rawManifest(t, e.app+"@"+refDigest(a.Refs[0]))
	}

	t.Run("manifest field order [R3-2]", func(t *testing.T) {
		want := []string{"schemaVersion", "mediaType", "artifactType", "config", "layers", "subject", "annotations"}
		for tag, raw := range manifests {
			if got := topLevelKeys(t, raw); !slices.Equal(got, want) {
				t.Errorf("[R3-2] artifact %s: fields %v, want %v", tag, got, want)
			}
			var m struct {
				Config json.RawMessage
				Layers []json.RawMessage
			}
			must(t, json.Unmarshal(raw, &m))
			for _, d := range append([]json.RawMessage{m.Config}, m.Layers...) {
				if got := topLevelKeys(t, d); len(got) < 3 || !slices.Equal(got[:3], []string{"mediaType", "digest", "size"}) {
					t.Errorf("[R3-2] artifact %s: descriptor fields %v, want mediaType, digest, size first", tag, got)
				}
			}
		}
	})

	t.Run("config [R3-4]", func(t *testing.T) {
		var helm, junit v1.Manifest
		must(t, json.Unmarshal(manifests["0.1.0"], &helm))
		must(t, json.Unmarshal(manifests["junit"], &junit))
		chart := fixture.Samples()[1].Layers[0].Files["Chart.json"]
		if helm.Config.MediaType != "application/vnd.cncf.helm.config.v1+json" || helm.Config.Size != int64(len(chart)) {
			t.Errorf("[R3-4] helm config %+v, want the helm config media type and Chart.json's %d bytes", helm.Config, len(chart))
		}
		empty := junit.Config
		if empty.MediaType != "application/vnd.oci.empty.v1+json" || empty.Size != 2 || string(empty.Data) != "{}" ||
			empty.Digest.String() != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
			t.Errorf("[R3-4] junit (no ConfigMediaType) config %+v, want the OCI empty descriptor with data e30=", empty)
		}
	})

	t.Run("annotations [R3-6]", func(t *testing.T) {
		var junit v1.Manifest
		must(t, json.Unmarshal(manifests["junit"], &junit))
		for k, v := range map[string]string{
			"org.opencontainers.image.description":     "unit test results",
			"org.opencontainers.image.created":         "2023-11-14T22:13:20Z",
			"io.buildpacks.artifact.buildpack.id":      "examples/tests",
			"io.buildpacks.artifact.buildpack.version": "1.0.0",
			"io.buildpacks.artifact.layer":             "report",
			"io.buildpacks.artifact.tag":               "junit",
		} {
			if got := junit.Annotations[k]; got != v {
				t.Errorf("[R3-6] annotation %s = %q, want %q", k, got, v)
			}
		}
	})

	t.Run("fallback index entries [R6-4]", func(t *testing.T) {
		raw := rawManifest(t, e.app+":sha256-"+e.digest.Hex)
		var idx v1.IndexManifest
		must(t, json.Unmarshal(raw, &idx))
		for tag, m := range manifests {
			var man v1.Manifest
			must(t, json.Unmarshal(m, &man))
			var entry *v1.Descriptor
			for i, d := range idx.Manifests {
				if d.Digest.String() == refDigest(e.rep.Artifacts[slices.IndexFunc(e.rep.Artifacts, func(a platform.ArtifactReport) bool { return a.Tag == tag })].Refs[0]) {
					entry = &idx.Manifests[i]
				}
			}
			if entry == nil {
				t.Errorf("[R6-4] the fallback index does not list artifact %s:\n%s", tag, raw)
				continue
			}
			if entry.ArtifactType != man.ArtifactType {
				t.Errorf("[R6-4] index entry of %s: artifactType %q, manifest %q", tag, entry.ArtifactType, man.ArtifactType)
			}
			for k, v := range man.Annotations {
				if entry.Annotations[k] != v {
					t.Errorf("[R6-4] index entry of %s: annotation %s = %q, manifest %q", tag, k, entry.Annotations[k], v)
				}
			}
		}
	})

	t.Run("kpack reads report.toml [R8-2]", func(t *testing.T) {
		raw, err := os.ReadFile(e.w.Report)
		must(t, err)
		var r files.Report
		if _, err := toml.Decode(string(raw), &r); err != nil {
			t.Fatalf("[R8-2] lifecycle's files.Report cannot decode report.toml: %v\n%s", err, raw)
		}
		if r.Image.Digest != e.digest.String() || !slices.Contains(r.Image.Tags, e.app+":latest") {
			t.Errorf("[R8-2] lifecycle's decoder reads digest %s tags %v, want %s", r.Image.Digest, r.Image.Tags, e.digest)
		}
	})

	t.Run("tekton greps report.toml [R8-3]", func(t *testing.T) {
		out, _, code := harness.Run(t, exec.Command("sh", "-c", `grep digest "$1" | cut -d'"' -f2`, "sh", e.w.Report))
		if code != 0 || out != e.digest.String()+"\n" {
			t.Errorf("[R8-3] grep digest report.toml | cut -d'\"' -f2 printed %q, want exactly %s", out, e.digest)
		}
	})
}

// [R7-9] Rerunning the same export uploads no blob and gives the same
// manifests; [R6-5] the fallback index keeps the entries already in it (a
// signature pushed between the two exports), in order, with its
// annotations, and lists each artifact once.
func TestExportRerunKeepsIndex(t *testing.T) {
	e := newRichExport(t)
	fallback := e.app + ":sha256-" + e.digest.Hex
	var idx map[string]any
	must(t, json.Unmarshal(rawManifest(t, fallback), &idx))
	// A signature: any manifest in the repository, listed first.
	sigRef, err := name.ParseReference(e.app + ":v1")
	must(t, err)
	sig, err := remote.Get(sigRef)
	must(t, err)
	sigDesc := map[string]any{"mediaType": string(sig.MediaType), "digest": sig.Digest.String(), "size": sig.Size,
		"annotations": map[string]string{"example.com/signature": "yes"}}
	idx["manifests"] = append([]any{sigDesc}, idx["manifests"].([]any)...)
	idx["annotations"] = map[string]any{"example.com/kept": "yes"}
	body, err := json.Marshal(idx)
	must(t, err)
	putManifest(t, fallback, body, "application/vnd.oci.image.index.v1+json")

	must(t, os.Remove(e.w.Report))
	e.proxy.Reset()
	out, code := export(t, e.w, false, "0.13", nil, e.app+":latest", e.app+":v1", e.other+":latest")
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, out)
	}
	again := readReport(t, e.w.Report)
	if len(again.Artifacts) != len(e.rep.Artifacts) {
		t.Fatalf("rerun published %d artifacts, first run %d", len(again.Artifacts), len(e.rep.Artifacts))
	}
	for i, a := range again.Artifacts {
		if !slices.Equal(a.Refs, e.rep.Artifacts[i].Refs) {
			t.Errorf("[R7-9] artifact %s: refs %v, first run %v", a.Tag, a.Refs, e.rep.Artifacts[i].Refs)
		}
	}
	if up := e.proxy.Uploads(); len(up) != 0 {
		t.Errorf("[R7-9] the rerun uploaded or mounted %d blobs: %v", len(up), up)
	}
	// The tag-ownership check found each artifact tag already naming its
	// manifest: the rerun writes none of them again.
	tagPaths := map[string]bool{}
	for _, a := range again.Artifacts {
		for _, r := range a.Refs {
			if tag, err := name.NewTag(r[:strings.LastIndex(r, "@")], name.StrictValidation); err == nil {
				tagPaths["/v2/"+tag.RepositoryStr()+"/manifests/"+tag.TagStr()] = true
			}
		}
	}
	if len(tagPaths) == 0 {
		t.Fatalf("[R7-9] no tagged artifact in the report: %+v", again.Artifacts)
	}
	for _, r := range e.proxy.Requests() {
		if r.Method == http.MethodPut && tagPaths[r.Path] {
			t.Errorf("[R7-9] the rerun wrote artifact tag %s, which already named its manifest", r.Path)
		}
	}

	var after v1.IndexManifest
	raw := rawManifest(t, fallback)
	must(t, json.Unmarshal(raw, &after))
	if len(after.Manifests) == 0 || after.Manifests[0].Digest.String() != sigDesc["digest"] {
		t.Fatalf("[R6-5] the signature entry is no longer first in the fallback index:\n%s", raw)
	}
	if after.Annotations["example.com/kept"] != "yes" {
		t.Errorf("[R6-5] the index's annotations were dropped:\n%s", raw)
	}
	seen := map[string]int{}
	for _, d := range after.Manifests {
		seen[d.Digest.String()]++
	}
	for _, a := range again.Artifacts {
		if n := seen[refDigest(a.Refs[0])]; n != 1 {
			t.Errorf("[R6-5] artifact %s is listed %d times in the fallback index:\n%s", a.Tag, n, raw)
		}
	}
}

func putManifest(t *testing.T, ref string, body []byte, mediaType string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	must(t, err)
	must(t, remote.Put(r, rawDescriptor{body: body, mediaType: mediaType}))
}

// rawDescriptor is a manifest given as bytes, for remote.Put.
type rawDescriptor struct {
	body      []byte
	mediaType string
}

func (r rawDescriptor) RawManifest() ([]byte, error) { return r.body, nil }

func (r rawDescriptor) MediaType() (types.MediaType, error) {
	return types.MediaType(r.mediaType), nil
}

// [R8-4] report.toml is replaced, not written through: a report.toml that
// is a symbolic link to another file is replaced by a regular file of mode
// 0644, and the link's target is left as it was.
func TestExportReplacesReport(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	w := fixture.New(t, run, fixture.Plain(), fixture.Samples()[2])
	victim := filepath.Join(w.Dir, "victim.txt")
	must(t, os.WriteFile(victim, []byte("untouched\n"), 0o600))
	must(t, os.Symlink(victim, w.Report))
	out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if rep := readReport(t, w.Report); len(rep.Artifacts) != 1 {
		t.Fatalf("the exporter published %d artifacts, want 1", len(rep.Artifacts))
	}
	if b, _ := os.ReadFile(victim); string(b) != "untouched\n" {
		t.Errorf("[R8-4] report.toml was written through its symbolic link into %s", victim)
	}
	info, err := os.Lstat(w.Report)
	must(t, err)
	if !info.Mode().IsRegular() || info.Mode().Perm() != 0o644 {
		t.Errorf("[R8-4] report.toml is %s, want a regular file of mode 0644", info.Mode())
	}
}

// [R3-1] The manifest an export publishes is byte for byte the golden file
// of its declaration, artifacts/testdata/golden/junit.json in compact form,
// with the real app image as its subject. The inputs are the golden case's:
// the same buildpack, layer, declaration, file and created time
// (SOURCE_DATE_EPOCH 315532801, lifecycle's default 1980-01-01T00:00:01Z).
func TestExportManifestMatchesGolden(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	decl := `
[[artifact]]
tag = "test-report"
type = "application/vnd.cnb.junit.report.v1+xml"
[[artifact.files]]
path = "reports/TEST-app.xml"
media-type = "application/xml"
[artifact.annotations]
"org.opencontainers.image.description" = "unit tests <& results>"
`
	bp := fixture.Buildpack{ID: "examples/wasm", Version: "1.0.0", Layers: []fixture.Layer{{Name: "wasm", Files: map[string][]byte{
		"artifacts.toml":       []byte(decl),
		"reports/TEST-app.xml": []byte(`<testsuite name="app" tests="1" failures="0"><testcase name="ok"/></testsuite>`),
	}}}}
	w := fixture.New(t, run, fixture.Plain(), bp)
	app := reg.Host + "/app"
	out, code := export(t, w, false, "0.13", []string{"SOURCE_DATE_EPOCH=315532801"}, app+":latest")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	rep := readReport(t, w.Report)
	if len(rep.Artifacts) != 1 {
		t.Fatalf("the exporter published %d artifacts, want 1", len(rep.Artifacts))
	}
	got := rawManifest(t, app+"@"+refDigest(rep.Artifacts[0].Refs[0]))

	pretty, err := os.ReadFile(filepath.Join("..", "artifacts", "testdata", "golden", "junit.json"))
	must(t, err)
	var golden bytes.Buffer
	must(t, json.Compact(&golden, pretty))
	var g struct{ Subject json.RawMessage }
	must(t, json.Unmarshal(golden.Bytes(), &g))
	subjectRef, err := name.ParseReference(app + ":latest")
	must(t, err)
	subject, err := remote.Get(subjectRef)
	must(t, err)
	actual := fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, subject.MediaType, subject.Digest, subject.Size)
	want := bytes.Replace(golden.Bytes(), g.Subject, []byte(actual), 1)
	if !bytes.Equal(got, want) {
		t.Fatalf("[R3-1] the published manifest differs from the golden file (subject replaced by the app image's):\n got  %s\n want %s", got, want)
	}
}
