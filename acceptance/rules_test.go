//go:build acceptance

package acceptance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	lifecyclecmd "github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
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

// [R7-2] Every blob write precedes every manifest write, every manifest by
// digest precedes every tag, and the primary tag is written last; the app
// image manifest is written before any artifact manifest that names it as
// subject. Observed at the registry: a write must not start before the one
// it follows was answered.
func TestExportWriteOrder(t *testing.T) {
	e := newRichExport(t)
	reqs := e.proxy.Requests()
	log := e.proxy.RequestLog()
	// A write that starts before another was answered was not made after it.
	end := func(r harness.Request) time.Time { return r.Responded }
	var blobs, byDigest, tags []harness.Request
	for _, r := range reqs {
		if r.Method == "GET" || r.Method == "HEAD" {
			continue
		}
		switch r.Kind() {
		case "upload":
			blobs = append(blobs, r)
		case "manifest-by-digest":
			byDigest = append(byDigest, r)
		case "manifest-by-tag":
			tags = append(tags, r)
		}
	}
	artifactDigests := map[string]bool{}
	for _, a := range e.rep.Artifacts {
		for _, ref := range a.Refs {
			artifactDigests[refDigest(ref)] = true
		}
	}
	// repo of a request path /v2/<repo>/manifests/<ref>.
	repoOf := func(r harness.Request) string {
		return strings.TrimPrefix(r.Path[:strings.Index(r.Path, "/manifests/")], "/v2/")
	}
	appPut := map[string]harness.Request{} // by repository
	var artifactPuts []harness.Request
	for _, r := range byDigest {
		d := r.Path[strings.LastIndex(r.Path, "/")+1:]
		if _, seen := appPut[repoOf(r)]; d == e.digest.String() && !seen {
			appPut[repoOf(r)] = r
		}
		if artifactDigests[d] {
			artifactPuts = append(artifactPuts, r)
		}
	}
	if len(appPut) != 2 || len(artifactPuts) == 0 {
		t.Fatalf("[R7-2] want a PUT by digest of the app manifest %s in app and in other, and of the artifact manifests, at the registry:\n%s", e.digest, log)
	}
	for _, a := range artifactPuts {
		if app, ok := appPut[repoOf(a)]; !ok || a.Start.Before(end(app)) {
			t.Errorf("[R7-2] artifact manifest %s was written before its subject, the app manifest, was stored in %s:\n%s", a.Path, repoOf(a), log)
		}
	}
	for _, b := range blobs {
		for _, m := range append(append([]harness.Request{}, byDigest...), tags...) {
			if m.Start.Before(end(b)) {
				t.Errorf("[R7-2] manifest write %s began before blob write %s ended:\n%s", m, b, log)
			}
		}
	}
	for _, m := range byDigest {
		for _, tag := range tags {
			if tag.Start.Before(end(m)) {
				t.Errorf("[R7-2] tag %s began before manifest %s was stored:\n%s", tag, m, log)
			}
		}
	}
	var primary *harness.Request
	for i, tag := range tags {
		if tag.Path == "/v2/app/manifests/latest" {
			primary = &tags[i]
		}
	}
	if primary == nil {
		t.Fatalf("[R7-2] no PUT of the primary tag app:latest:\n%s", log)
	}
	for _, w := range append(append(append([]harness.Request{}, blobs...), byDigest...), tags...) {
		if w != *primary && primary.Start.Before(end(w)) {
			t.Errorf("[R7-2] the primary tag was written before %s ended; it must be last:\n%s", w, log)
		}
	}
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

// rfcTOML is RFC 0113's example, verbatim, labels as an array of tables.
const rfcTOML = `
[[artifact]]
tag = "wasm"
file = "mywasmprogram.wasm"    # Should be a file relative to the current $LAYERS_DIR

[[artifact.labels]]
ConfigMediaType       = "application/vnd.wasm.config.v1+json"
ContentLayerMediaType = "application/vnd.wasm.content.layer.v1+wasm"
`

// How the exporter reads declarations. Accepted: RFC 0113's example
// verbatim [R2.2-1], with the defaults applied [R2.3-1] and its
// ConfigMediaType as artifactType [R3-3]; an artifacts.toml outside any
// layer is not read [R2.1-2]. Refused with exit 63 and nothing pushed: an
// artifacts.toml over 1 MiB [R2.1-5], two labels tables [R2.2-2], a tag
// template that makes a referrers fallback tag [R5-2]. The accepted case
// comes first: a lifecycle that publishes no artifacts fails there.
func TestExportReadsDeclarations(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	bp := func(id, layer, toml string, files ...string) fixture.Buildpack {
		f := map[string][]byte{"artifacts.toml": []byte(toml)}
		for _, name := range files {
			f[name] = []byte("\x00asm\x01\x00\x00\x00")
		}
		return fixture.Buildpack{ID: id, Version: "1.0.0", Layers: []fixture.Layer{{Name: layer, Files: f}}}
	}

	t.Run("accepted [R2.2-1] [R2.3-1] [R3-3] [R2.1-2]", func(t *testing.T) {
		w := fixture.New(t, run, fixture.Plain(), bp("examples/rfc", "wasm", rfcTOML, "mywasmprogram.wasm"))
		outside := "[[artifact]]\ntag = \"outside\"\ntype = \"application/vnd.example\"\n[[artifact.files]]\npath = \"wasm/mywasmprogram.wasm\"\nmedia-type = \"text/plain\"\n"
		must(t, os.WriteFile(filepath.Join(w.Layers, "examples_rfc", "artifacts.toml"), []byte(outside), 0o644))
		app := reg.Host + "/accepted"
		out, code := export(t, w, false, "0.13", nil, app+":latest")
		if code != 0 {
			t.Fatalf("[R2.2-1] the RFC's example was not accepted: exit %d\n%s", code, out)
		}
		rep := readReport(t, w.Report)
		if len(rep.Artifacts) != 1 || rep.Artifacts[0].Tag != "wasm" {
			t.Fatalf("[R2.2-1] [R2.1-2] want exactly the RFC's wasm artifact published (not one of the artifacts.toml outside the layer), report has %+v\n%s", rep.Artifacts, out)
		}
		var m v1.Manifest
		must(t, json.Unmarshal(rawManifest(t, app+"@"+refDigest(rep.Artifacts[0].Refs[0])), &m))
		if m.ArtifactType != "application/vnd.wasm.config.v1+json" || m.Config.MediaType != "application/vnd.wasm.config.v1+json" {
			t.Errorf("[R3-3] artifactType %q config %q, want the ConfigMediaType for both", m.ArtifactType, m.Config.MediaType)
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != "application/vnd.wasm.content.layer.v1+wasm" ||
			m.Layers[0].Annotations["org.opencontainers.image.title"] != "mywasmprogram.wasm" {
			t.Errorf("[R2.3-1] layers %+v, want one of the ContentLayerMediaType titled mywasmprogram.wasm", m.Layers)
		}
		if _, err := remote.Head(mustTag(t, app+":outside")); err == nil {
			t.Errorf("[R2.1-2] the artifacts.toml outside any layer was read: %s:outside exists", app)
		}
	})

	for _, tc := range []struct {
		name, rule string
		bp         fixture.Buildpack
		env        []string
		want       []string
	}{
		{
			name: "artifacts.toml over 1 MiB", rule: "R2.1-5",
			bp:   bp("examples/big", "big", "# "+strings.Repeat("x", 1<<20)+"\n"),
			want: []string{`"examples/big@1.0.0"`, `layer "big"`, "artifacts.toml", "1048576"},
		},
		{
			name: "two labels tables", rule: "R2.2-2",
			bp:   bp("examples/labels", "labels", rfcTOML+"\n[[artifact.labels]]\nConfigMediaType = \"application/vnd.example.config\"\n", "mywasmprogram.wasm"),
			want: []string{`"examples/labels@1.0.0"`, `layer "labels"`, "[[artifact.labels]]"},
		},
		{
			name: "template makes a fallback tag", rule: "R5-2",
			bp:   bp("examples/hex", "hex", "[[artifact]]\ntag = \""+strings.Repeat("ab", 32)+"\"\nfile = \"a.wasm\"\ntype = \"application/vnd.example\"\n", "a.wasm"),
			env:  []string{platform.EnvArtifactTagTemplate + "=sha256-{tag}"},
			want: []string{"examples/hex", "sha256-" + strings.Repeat("ab", 32)},
		},
	} {
		t.Run(tc.name+" ["+tc.rule+"]", func(t *testing.T) {
			w := fixture.New(t, run, fixture.Plain(), tc.bp)
			repo := strings.ReplaceAll(strings.ToLower(tc.rule), ".", "-")
			out, code := export(t, w, false, "0.13", tc.env, reg.Host+"/"+repo+":latest")
			if code != platform.CodeInvalidArtifacts {
				t.Fatalf("[%s] %s: exit %d, want %d\n%s", tc.rule, tc.name, code, platform.CodeInvalidArtifacts, out)
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("[%s] the error does not name %q:\n%s", tc.rule, s, out)
				}
			}
			if slices.Contains(catalog(t, reg.Host), repo) {
				t.Errorf("[%s] something was pushed to %s", tc.rule, repo)
			}
		})
	}
}

// An invalid CNB_ARTIFACTS_TAG_TEMPLATE is an invalid argument, named in the
// error, before anything is pushed: {tag} missing or twice [R10-1], which
// keeps distinct declared tags distinct [R5-3], or an unknown placeholder.
func TestExportRejectsInvalidTemplate(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	for i, tmpl := range []string{"{image-tag}", "{tag}-{tag}", "{tag}-{sha}", "{tag"} {
		t.Run(tmpl, func(t *testing.T) {
			w := fixture.New(t, run, fixture.Plain(), fixture.Samples()[2])
			repo := fmt.Sprintf("template%d", i)
			out, code := export(t, w, false, "0.13", []string{platform.EnvArtifactTagTemplate + "=" + tmpl}, reg.Host+"/"+repo+":latest")
			if code != lifecyclecmd.CodeForInvalidArgs {
				t.Fatalf("[R10-1] template %q: exit %d, want lifecycle's invalid-arguments code %d\n%s", tmpl, code, lifecyclecmd.CodeForInvalidArgs, out)
			}
			if !strings.Contains(out, platform.EnvArtifactTagTemplate) {
				t.Errorf("[R10-1] the error does not name %s:\n%s", platform.EnvArtifactTagTemplate, out)
			}
			if slices.Contains(catalog(t, reg.Host), repo) {
				t.Errorf("[R10-1] something was pushed to %s", repo)
			}
		})
	}
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

// tagDigests maps every tag of repo to the digest it holds.
func tagDigests(t *testing.T, repo string) map[string]string {
	t.Helper()
	r, err := name.NewRepository(repo)
	must(t, err)
	tags, err := remote.List(r)
	must(t, err)
	out := map[string]string{}
	for _, tag := range tags {
		out[tag] = head(t, repo+":"+tag).String()
	}
	return out
}

// [R7-4] A failure before the tag step leaves every tag where it was: the
// app image's, each artifact's and the fallback index's. The second export
// of a changed app is refused by the registry at one artifact manifest
// (GitLab's type allow-list, emulated), with the policy required.
func TestExportFailureBeforeTagsMovesNoTag(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	must(t, err)
	t.Cleanup(proxy.Close)
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	samples := fixture.Samples()
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
	out, code := export(t, w, false, "0.13", nil, proxy.Host+"/app:latest", proxy.Host+"/app:v1")
	if code != 0 {
		t.Fatalf("first export: exit %d\n%s", code, out)
	}
	if rep := readReport(t, w.Report); len(rep.Artifacts) != len(samples) {
		t.Fatalf("the exporter published %d artifacts, want %d", len(rep.Artifacts), len(samples))
	}
	before := tagDigests(t, reg.Host+"/app")

	plain := fixture.Plain()
	plain.Version = "2.0.0"
	plain.Layers[0].Files = map[string][]byte{"node_modules/left-pad/index.js": []byte("module.exports = s => s.trim()\n")}
	w2 := fixture.New(t, run, append([]fixture.Buildpack{plain}, samples...)...)
	proxy.SetQuirks(faultproxy.Quirks{AllowedTypes: []string{"application/vnd.cncf.helm.config.v1+json"}})
	out, code = export(t, w2, false, "0.13", nil, proxy.Host+"/app:latest", proxy.Host+"/app:v1")
	if code != platform.CodeRegistryFailed {
		t.Fatalf("second export: exit %d, want %d (the registry refuses the wasm and junit manifests)\n%s", code, platform.CodeRegistryFailed, out)
	}
	after := tagDigests(t, reg.Host+"/app")
	for tag, d := range before {
		if after[tag] != d {
			t.Errorf("[R7-4] tag %s moved from %s to %s although the export failed before the tag step", tag, d, after[tag])
		}
	}
	for tag := range after {
		if _, ok := before[tag]; !ok {
			t.Errorf("[R7-4] tag %s was created although the export failed before the tag step", tag)
		}
	}
}

// [R15.2-2] A rebuild whose Helm buildpack reuses its chart layer, when the
// previous chart cannot be read (its manifest was deleted from the
// registry), still succeeds and logs one warning naming the buildpack, the
// layer and why.
func TestRebuildWarnsWhenArtifactsCannotBeCarried(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	app := reg.Host + "/app:latest"
	samples := fixture.Samples()
	first := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
	if out, code := create(t, first, false, "0.13", nil, app); code != 0 {
		t.Fatalf("first build: exit %d\n%s", code, out)
	}
	rep := readReport(t, first.Report)
	chart := slices.IndexFunc(rep.Artifacts, func(a platform.ArtifactReport) bool { return a.Tag == "0.1.0" })
	if chart < 0 {
		t.Fatalf("the first build published no chart: report artifacts %+v", rep.Artifacts)
	}
	gone, err := name.NewDigest(reg.Host + "/app@" + refDigest(rep.Artifacts[chart].Refs[0]))
	must(t, err)
	must(t, remote.Delete(gone))

	plain := fixture.Plain()
	plain.Version = "2.0.0"
	second := fixture.NewBuild(t, run, append([]fixture.Buildpack{plain}, samples...)...)
	keep := "#!/bin/sh\nset -eu\nprintf '[types]\\n  launch = true\\n' > \"$1/chart.toml\"\n"
	must(t, os.WriteFile(filepath.Join(second.Buildpacks, "examples_helm", "1.0.0", "bin", "build"), []byte(keep), 0o755))
	out, code := create(t, second, false, "0.13", nil, app)
	if code != 0 {
		t.Fatalf("[R15.2-2] the rebuild failed when the previous chart could not be carried: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "Reusing layer 'examples/helm:chart'") {
		t.Fatalf("the chart layer was not reused:\n%s", out)
	}
	var warnings []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(line), "warn") && strings.Contains(line, "examples/helm") && strings.Contains(line, "chart") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 {
		t.Fatalf("[R15.2-2] want one warning naming buildpack examples/helm and layer chart, got %d:\n%s", len(warnings), out)
	}
	t.Logf("the warning: %s", warnings[0])
	if !strings.Contains(warnings[0], gone.DigestStr()) && !strings.Contains(warnings[0], "404") && !strings.Contains(warnings[0], "MANIFEST_UNKNOWN") {
		t.Errorf("[R15.2-2] the warning does not say why (the manifest %s is gone): %s", gone.DigestStr(), warnings[0])
	}
}

// refusingProxy forwards to a registry and refuses, for good (403 DENIED,
// not retried), every PUT of the manifest tag refused.
func refusingProxy(t *testing.T, registryHost, refused string) string {
	t.Helper()
	backend, err := url.Parse("http://" + registryHost)
	must(t, err)
	next := httputil.NewSingleHostReverseProxy(backend)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+refused) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"tag %s is protected"}]}`, refused)
			return
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// [R7-5] A failure in the tag step reports which tags moved, in order, and
// which did not, the primary last; the primary tag does not move. The
// registry refuses the artifact tag junit; the exit code is 65 [R9-3].
func TestExportTagFailureReportsMovedTags(t *testing.T) {
	reg := harness.StartDistribution(t)
	host := refusingProxy(t, reg.Host, "junit")
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, host, 1)
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	out, code := export(t, w, false, "0.13", nil, host+"/app:latest", host+"/app:v1")
	if code != platform.CodeTagsIncomplete {
		t.Fatalf("[R7-5] exit %d, want %d (tags incomplete): the registry refused the tag junit\n%s", code, platform.CodeTagsIncomplete, out)
	}
	m := regexp.MustCompile(`moved: \[([^\]]*)\]; not moved: \[([^\]]*)\]`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("[R7-5] the error does not list the tags moved and not moved:\n%s", out)
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ", ")
	}
	moved, notMoved := split(m[1]), split(m[2])
	if len(notMoved) == 0 || notMoved[len(notMoved)-1] != host+"/app:latest" {
		t.Errorf("[R7-5] not moved: %v, want the primary tag %s last", notMoved, host+"/app:latest")
	}
	if !slices.Contains(notMoved, host+"/app:junit") {
		t.Errorf("[R7-5] not moved: %v, want the refused tag junit among them", notMoved)
	}
	for _, tag := range moved {
		if _, err := remote.Head(mustTag(t, strings.Replace(tag, host, reg.Host, 1))); err != nil {
			t.Errorf("[R7-5] %s is reported moved but the registry does not have it: %v", tag, err)
		}
	}
	for _, tag := range notMoved {
		if _, err := remote.Head(mustTag(t, strings.Replace(tag, host, reg.Host, 1))); err == nil {
			t.Errorf("[R7-5] %s is reported not moved but the registry has it", tag)
		}
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
