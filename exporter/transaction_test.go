package exporter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// request is one request the registry saw.
type request struct{ method, path, query string }

// recorder wraps a registry handler, records every request and can fail
// chosen ones.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	seen []request
	fail func(r *http.Request) int // a status to answer instead, or 0

	// Manifest writes in flight at once, and the most seen.
	inFlight, maxInFlight int
	// hold, when set, holds each manifest write until another one arrives
	// or hold has passed, so that writes sent together overlap here however
	// the goroutines are scheduled. arrived is closed when one arrives.
	hold    time.Duration
	arrived chan struct{}
}

// setFail sets the failure function, safely against requests in flight.
func (rec *recorder) setFail(fail func(r *http.Request) int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.fail = fail
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.seen = append(rec.seen, request{r.Method, r.URL.Path, r.URL.RawQuery})
	fail := rec.fail
	manifestWrite := r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
	var next <-chan struct{}
	if manifestWrite {
		rec.inFlight++
		rec.maxInFlight = max(rec.maxInFlight, rec.inFlight)
		if rec.hold > 0 {
			if rec.arrived != nil {
				close(rec.arrived) // release the writes held so far
			}
			rec.arrived = make(chan struct{})
			next = rec.arrived
		}
	}
	hold := rec.hold
	rec.mu.Unlock()
	if manifestWrite {
		defer func() {
			rec.mu.Lock()
			rec.inFlight--
			rec.mu.Unlock()
		}()
		if next != nil {
			timer := time.NewTimer(hold)
			select {
			case <-next:
			case <-timer.C:
			}
			timer.Stop()
		}
	}
	if fail != nil {
		if code := fail(r); code != 0 {
			codes := map[int]string{http.StatusBadRequest: "MANIFEST_INVALID", http.StatusForbidden: "DENIED"}
			c, ok := codes[code]
			if !ok {
				c = "UNAVAILABLE"
			}
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"injected %d"}]}`, c, code)
			return
		}
	}
	rec.next.ServeHTTP(w, r)
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.seen...)
}

func newRegistry(t *testing.T, referrers bool) (*recorder, string) {
	t.Helper()
	rec := &recorder{next: registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, strings.TrimPrefix(srv.URL, "http://")
}

// writeLayer writes an artifacts.toml and files into a layer of buildpack bp.
func writeLayer(t *testing.T, layers, bp, layer, toml string, files map[string]string) {
	t.Helper()
	dir := filepath.Join(layers, strings.ReplaceAll(bp, "/", "_"), layer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "artifacts.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture declares three artifacts across two buildpacks.
func fixture(t *testing.T) []*artifacts.Artifact {
	t.Helper()
	layers := t.TempDir()
	writeLayer(t, layers, "examples/wasm", "wasm", `
[[artifact]]
tag = "wasm"
file = "app.wasm"
[artifact.labels]
ConfigMediaType = "application/vnd.wasm.config.v0+json"
ContentLayerMediaType = "application/wasm"
`, map[string]string{"app.wasm": "\x00asm\x01\x00\x00\x00"})
	writeLayer(t, layers, "examples/reports", "reports", `
[[artifact]]
tag = "junit"
type = "application/vnd.cnb.junit.report.v1+xml"
file = "junit.xml"
[[artifact]]
tag = "sarif"
type = "application/sarif+json"
[[artifact.files]]
path = "results.sarif"
media-type = "application/sarif+json"
`, map[string]string{"junit.xml": "<testsuites/>", "results.sarif": "{}"})
	decls, err := artifacts.Load(layers, []artifacts.Buildpack{{ID: "examples/wasm", Version: "1.0.0"}, {ID: "examples/reports", Version: "0.1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*artifacts.Artifact
	for _, d := range decls {
		a, err := artifacts.Build(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if len(out) != 3 {
		t.Fatalf("fixture has %d artifacts", len(out))
	}
	return out
}

func commit(t *testing.T, names []string, arts []*artifacts.Artifact, img v1.Image) (*exporter.Result, error) {
	t.Helper()
	plan, err := exporter.NewPlan(names, arts, platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := exporter.New(plan)
	if err != nil {
		t.Fatal(err)
	}
	return tx.Commit(context.Background(), img)
}

func TestCommit(t *testing.T) {
	t.Parallel()
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			rec, host := newRegistry(t, referrers)
			rec.mu.Lock()
			rec.hold = 100 * time.Millisecond // writes sent together overlap
			rec.mu.Unlock()
			img, err := random.Image(1024, 2)
			if err != nil {
				t.Fatal(err)
			}
			arts := fixture(t)
			app := host + "/app"

			// Another tool's referrer (a signature) is already attached.
			sig := attachSignature(t, app, img)

			start := len(rec.requests())
			res, err := commit(t, []string{app + ":latest", app + ":v1"}, arts, img)
			if err != nil {
				t.Fatal(err)
			}
			appDigest, _ := img.Digest()

			for _, tag := range []string{"latest", "v1"} {
				d := headDigest(t, app+":"+tag)
				if d != appDigest {
					t.Fatalf("%s -> %s, want %s", tag, d, appDigest)
				}
			}
			for i, p := range res.Artifacts {
				want := p.Manifest.Descriptor.Digest
				if d := headDigest(t, app+":"+arts[i].Tag); d != want {
					t.Fatalf("artifact tag %s -> %s, want %s", arts[i].Tag, d, want)
				}
				if len(p.Refs) != 1 || p.Refs[0] != app+":"+arts[i].Tag+"@"+want.String() {
					t.Fatalf("refs = %v", p.Refs)
				}
				var m v1.Manifest
				if err := json.Unmarshal(p.Manifest.Raw, &m); err != nil {
					t.Fatal(err)
				}
				if m.Subject == nil || m.Subject.Digest != appDigest {
					t.Fatalf("subject = %+v, want %s", m.Subject, appDigest)
				}
			}

			ref, _ := name.NewDigest(app + "@" + appDigest.String())
			fallback := app + ":sha256-" + appDigest.Hex
			_, ferr := remote.Head(mustRef(t, fallback))
			idx, err := remote.Referrers(ref)
			if err != nil {
				t.Fatal(err)
			}
			im, _ := idx.IndexManifest()
			got := map[v1.Hash]v1.Descriptor{}
			for _, d := range im.Manifests {
				got[d.Digest] = d
			}
			for i, p := range res.Artifacts {
				d, ok := got[p.Manifest.Descriptor.Digest]
				if !ok {
					t.Fatalf("referrers miss artifact %s: %+v", arts[i].Tag, im.Manifests)
				}
				if !referrers && (d.ArtifactType != arts[i].ArtifactType || d.Annotations["org.opencontainers.image.created"] == "") {
					t.Fatalf("fallback entry lacks artifactType or annotations: %+v", d)
				}
			}
			if _, ok := got[sig]; !ok {
				t.Fatalf("existing referrer %s was dropped: %+v", sig, im.Manifests)
			}
			if referrers && ferr == nil {
				t.Fatalf("fallback tag written although the registry serves the referrers API")
			}
			if !referrers && ferr != nil {
				t.Fatalf("no fallback tag: %v", ferr)
			}
			checkOrder(t, rec.requests()[start:], "/v2/app/manifests/latest")
			// Registries that index referrers can lose entries when two
			// manifest writes with one subject race (olareg does).
			rec.mu.Lock()
			most := rec.maxInFlight
			rec.mu.Unlock()
			if referrers && most > 1 {
				t.Fatalf("%d manifest writes overlapped on a registry that indexes referrers", most)
			}
			t.Logf("at most %d manifest writes at once", most)
		})
	}
}

// checkOrder asserts the transaction's write order: every blob write before
// any manifest write, every manifest by digest before any tag, and the
// primary tag last.
func checkOrder(t *testing.T, reqs []request, primary string) {
	t.Helper()
	phase := 0 // 0 blobs, 1 manifests by digest, 2 tags
	var lastWrite request
	for _, r := range reqs {
		if r.method == http.MethodGet || r.method == http.MethodHead {
			continue
		}
		var p int
		switch {
		case strings.Contains(r.path, "/blobs/"):
			p = 0
		case strings.Contains(r.path, "/manifests/sha256:"):
			p = 1
		case strings.Contains(r.path, "/manifests/"):
			p = 2
		default:
			continue
		}
		if p < phase {
			t.Fatalf("%s %s came after a later step", r.method, r.path)
		}
		phase = p
		lastWrite = r
	}
	if lastWrite.path != primary {
		t.Fatalf("last write %s %s, want the primary tag %s", lastWrite.method, lastWrite.path, primary)
	}
}

func TestCommitFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		fail      func(r *http.Request, n int) int // n counts matching requests
		wantStage exporter.Stage
		wantMoved []string
		wantErr   string
	}{
		{
			name: "blob upload refused",
			fail: func(r *http.Request, _ int) int {
				if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads") {
					return http.StatusForbidden
				}
				return 0
			},
			wantStage: exporter.StageBlobs,
			wantErr:   "upload blob sha256:", // names the blob by its digest
		},
		{
			name: "artifact manifest refused (MANIFEST_INVALID, as GitLab does)",
			fail: func(r *http.Request, _ int) int {
				// random.Image is a Docker manifest; artifacts are OCI ones.
				if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256:") &&
					r.Header.Get("Content-Type") == string(types.OCIManifestSchema1) {
					return http.StatusBadRequest
				}
				return 0
			},
			wantStage: exporter.StageManifests,
			wantErr:   "refused manifest",
		},
		{
			name: "second artifact tag refused",
			fail: func(r *http.Request, _ int) int {
				if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/junit") {
					return http.StatusForbidden
				}
				return 0
			},
			wantStage: exporter.StageTags,
			// This registry indexes referrers, so artifact tags move one
			// after the other: the first moved, the rest and the app
			// image's tag did not.
			wantMoved: []string{"/app:wasm"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, host := newRegistry(t, true)
			img, _ := random.Image(512, 1)
			app := host + "/app"
			before := pushOld(t, app+":latest")
			var mu sync.Mutex // the registry serves requests concurrently
			n := 0
			refused := map[string]int{} // path -> refusals
			rec.setFail(func(r *http.Request) int {
				mu.Lock()
				defer mu.Unlock()
				n++
				code := tc.fail(r, n)
				if code != 0 {
					refused[r.URL.Path]++
				}
				return code
			})

			res, err := commit(t, []string{app + ":latest"}, fixture(t), img)
			var ce *exporter.CommitError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a CommitError", err)
			}
			if ce.Stage != tc.wantStage {
				t.Fatalf("stage = %s, want %s (%v)", ce.Stage, tc.wantStage, err)
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			var moved []string
			for _, m := range ce.Moved {
				moved = append(moved, strings.TrimPrefix(m, host))
			}
			if strings.Join(moved, ",") != strings.Join(tc.wantMoved, ",") {
				t.Fatalf("moved = %v, want %v", moved, tc.wantMoved)
			}
			if len(ce.NotMoved) > 0 && ce.NotMoved[len(ce.NotMoved)-1] != app+":latest" {
				t.Fatalf("not moved = %v, want the primary tag last", ce.NotMoved)
			}
			// A permanent refusal is not retried. (Blob upload sessions all
			// POST to one path, so only manifest and tag paths are counted.)
			rec.setFail(nil)
			mu.Lock()
			defer mu.Unlock()
			if len(refused) == 0 {
				t.Fatal("no request was refused")
			}
			for path, k := range refused {
				if strings.Contains(path, "/manifests/") && k > 1 {
					t.Fatalf("%s refused %d times: a permanent error was retried", path, k)
				}
			}
			if d := headDigest(t, app+":latest"); d != before {
				t.Fatalf("primary tag moved to %s on a failed export", d)
			}
			_ = res
		})
	}
}

func TestCommitRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, false)
	var mu sync.Mutex
	failed := map[string]int{}
	rec.setFail(func(r *http.Request) int {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
			return 0
		}
		mu.Lock()
		defer mu.Unlock()
		if failed[r.URL.Path] < 1 {
			failed[r.URL.Path]++
			return http.StatusServiceUnavailable
		}
		return 0
	})
	img, _ := random.Image(512, 1)
	app := host + "/app"
	if _, err := commit(t, []string{app + ":latest"}, fixture(t), img); err != nil {
		t.Fatalf("transient 503s were not retried: %v", err)
	}
	want, _ := img.Digest()
	if d := headDigest(t, app+":latest"); d != want {
		t.Fatalf("latest -> %s", d)
	}
}

// A rerun of the same export writes the same manifests and uploads no blob.
func TestCommitIsIdempotent(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, false)
	img, _ := random.Image(512, 2)
	arts := fixture(t)
	app := host + "/app"
	first, err := commit(t, []string{app + ":latest"}, arts, img)
	if err != nil {
		t.Fatal(err)
	}
	n := len(rec.requests())
	second, err := commit(t, []string{app + ":latest"}, arts, img)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.requests()[n:] {
		if r.method == http.MethodPost || r.method == http.MethodPatch || (r.method == http.MethodPut && strings.Contains(r.path, "/blobs/")) {
			t.Fatalf("rerun uploaded a blob: %s %s", r.method, r.path)
		}
	}
	for i := range first.Artifacts {
		if first.Artifacts[i].Manifest.Descriptor.Digest != second.Artifacts[i].Manifest.Descriptor.Digest {
			t.Fatalf("artifact %d digest changed between identical exports", i)
		}
	}
	// The fallback index lists each artifact once.
	d, _ := img.Digest()
	idx, err := remote.Index(mustRef(t, app+":sha256-"+d.Hex))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != len(arts) {
		t.Fatalf("fallback index has %d entries, want %d", len(im.Manifests), len(arts))
	}
}

// Every repository the image goes to gets every artifact. (pkg/registry
// shares blobs across repositories, so the mounts themselves are checked
// against a real registry in the acceptance tests.)
func TestCommitSeveralRepositories(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, true)
	img, _ := random.Image(512, 1)
	names := []string{host + "/a:latest", host + "/b:v1"}
	res, err := commit(t, names, fixture(t), img)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Artifacts {
		if len(p.Refs) != 2 {
			t.Fatalf("refs = %v, want one per repository", p.Refs)
		}
		for _, r := range p.Refs {
			if _, err := remote.Head(mustRef(t, r)); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
		}
	}
	for _, r := range rec.requests() {
		if (r.method == http.MethodPatch || r.method == http.MethodPut) && strings.HasPrefix(r.path, "/v2/b/blobs/") {
			t.Fatalf("blob uploaded again to the second repository: %s %s", r.method, r.path)
		}
		// Every blob goes to the second repository as a mount from the first.
		if r.method == http.MethodPost && strings.HasPrefix(r.path, "/v2/b/blobs/") && !strings.Contains(r.query, "mount=") {
			t.Fatalf("blob posted to the second repository without a mount: %s %s?%s", r.method, r.path, r.query)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func headDigest(t *testing.T, ref string) v1.Hash {
	t.Helper()
	d, err := remote.Head(mustRef(t, ref))
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest
}

// pushOld tags an unrelated image, the state before the export.
func pushOld(t *testing.T, ref string) v1.Hash {
	t.Helper()
	old, _ := random.Image(256, 1)
	if err := remote.Write(mustRef(t, ref), old); err != nil {
		t.Fatal(err)
	}
	d, _ := old.Digest()
	return d
}

// attachSignature pushes a referrer of img the way a signing tool would.
func attachSignature(t *testing.T, repo string, img v1.Image) v1.Hash {
	t.Helper()
	d, _ := img.Digest()
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	sig := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.cosign.simplesigning.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`, mt, d, len(raw))
	h, _, _ := v1.SHA256(strings.NewReader(sig))
	// The subject must exist for the referrers API to answer; pushing the
	// app image's blobs and manifest first mirrors a signer running after an
	// earlier export.
	if err := remote.Write(mustRef(t, repo+"@"+d.String()), img); err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(mustRef(t, repo).Context(), static.NewLayer([]byte("{}"), types.OCIConfigJSON)); err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(mustRef(t, repo+"@"+h.String()), rawManifest{[]byte(sig), types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	return h
}

type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// A daemon export publishes the artifacts alone to the repository the
// platform named: no subject, the image ID annotated, no image tag written.
func TestCommitWithoutImage(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, false)
	arts := fixture(t)
	plan, err := exporter.NewRepositoryPlan(host+"/artifacts", "latest", arts, platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1700000000, 0)
	tx, err := exporter.New(plan, exporter.WithImageID("sha256:abcd"), exporter.WithCreated(created))
	if err != nil {
		t.Fatal(err)
	}
	res, err := tx.Commit(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range res.Artifacts {
		if d := headDigest(t, host+"/artifacts:"+arts[i].Tag); d != p.Manifest.Descriptor.Digest {
			t.Fatalf("tag %s -> %s", arts[i].Tag, d)
		}
		var m v1.Manifest
		if err := json.Unmarshal(p.Manifest.Raw, &m); err != nil {
			t.Fatal(err)
		}
		if m.Subject != nil || m.Annotations["io.buildpacks.artifact.image.id"] != "sha256:abcd" ||
			m.Annotations["org.opencontainers.image.created"] != "2023-11-14T22:13:20Z" {
			t.Fatalf("manifest %s", p.Manifest.Raw)
		}
	}
	for _, r := range rec.requests() {
		if strings.Contains(r.path, "/manifests/sha256-") || strings.Contains(r.path, "/referrers/") {
			t.Fatalf("a subjectless commit touched referrers: %s %s", r.method, r.path)
		}
	}
	if len(res.Moved) != len(arts) {
		t.Fatalf("moved %v", res.Moved)
	}
}

// Artifact files are hashed while they are uploaded: the exporter does not
// ask the registry for a blob whose digest it does not know yet, and the
// manifests it then writes name what was uploaded.
func TestCommitStreamsArtifactFiles(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, true)
	img, _ := random.Image(512, 1)
	app := host + "/app"
	layers := t.TempDir()
	const bigSize = 64 << 20 // streamed from artifacts' streamMinSize on
	writeLayer(t, layers, "examples/big", "big", `
[[artifact]]
tag = "big"
type = "application/vnd.example.big"
file = "big.bin"
[[artifact]]
tag = "small"
type = "application/vnd.example.small"
file = "small.bin"
`, map[string]string{"small.bin": "small", "big.bin": ""})
	if err := os.Truncate(filepath.Join(layers, "examples_big", "big", "big.bin"), bigSize); err != nil { // sparse
		t.Fatal(err)
	}
	decls, err := artifacts.Load(layers, []artifacts.Buildpack{{ID: "examples/big", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	var arts []*artifacts.Artifact
	for _, d := range decls {
		a, err := artifacts.Build(d)
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, a)
	}
	res, err := commit(t, []string{app + ":latest"}, arts, img)
	if err != nil {
		t.Fatal(err)
	}
	big, _, _ := v1.SHA256(io.LimitReader(zeros{}, bigSize))
	small, _, _ := v1.SHA256(strings.NewReader("small"))
	heads := map[string]bool{}
	for _, r := range rec.requests() {
		if r.method == http.MethodHead {
			heads[r.path[strings.LastIndex(r.path, "/")+1:]] = true
		}
	}
	if heads[big.String()] {
		t.Errorf("HEAD of the big file's blob before its streamed upload")
	}
	if !heads[small.String()] {
		t.Errorf("no HEAD of the small file's blob: it is hashed first so that an existing blob is skipped")
	}
	for _, p := range res.Artifacts {
		ref := mustRef(t, p.Refs[0])
		m, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		ls, _ := m.Layers()
		for _, l := range ls {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(rc) // verifies the digest
			rc.Close()
			if err != nil {
				t.Fatalf("%s: %v", p.Refs[0], err)
			}
		}
	}
}

// A file that cannot be read during the upload fails the export as a file
// error, not a registry one, and moves no tag.
func TestCommitFileErrorIsNotARegistryError(t *testing.T) {
	t.Parallel()
	_, host := newRegistry(t, false)
	img, _ := random.Image(512, 1)
	app := host + "/app"
	before := pushOld(t, app+":latest")
	arts := fixture(t)
	os.Remove(filepath.Join(arts[1].LayerDir, "junit.xml"))
	_, err := commit(t, []string{app + ":latest"}, arts, img)
	var ce *exporter.CommitError
	if !errors.Is(err, artifacts.ErrFile) || errors.As(err, &ce) {
		t.Fatalf("err = %v, want an artifacts.ErrFile that is no CommitError", err)
	}
	if d := headDigest(t, app+":latest"); d != before {
		t.Fatalf("primary tag moved to %s", d)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Small artifact blobs go up in single-request uploads (no PATCH), each
// distinct blob once, and a transient failure of the upload is retried with
// a new session.
func TestCommitUploadsSmallBlobsInOneRequest(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, true)
	var mu sync.Mutex
	failed := false
	rec.setFail(func(r *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if !failed && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			failed = true
			return http.StatusServiceUnavailable
		}
		return 0
	})
	img, _ := random.Image(512, 1)
	arts := fixture(t)
	if _, err := commit(t, []string{host + "/app:latest"}, arts, img); err != nil {
		t.Fatalf("a transient upload failure was not retried: %v", err)
	}
	heads := map[string]int{}
	for _, r := range rec.requests() {
		if r.method == http.MethodPatch {
			t.Errorf("chunked upload of a small blob: %s %s", r.method, r.path)
		}
		if r.method == http.MethodHead && strings.Contains(r.path, "/blobs/") {
			heads[r.path]++
		}
	}
	for p, n := range heads {
		if n > 1 {
			t.Errorf("%s asked %d times: blobs are not de-duplicated", p, n)
		}
	}
}

// A fallback tag that holds something other than an OCI index is not
// overwritten: the export fails in the tag step before the app's tags move.
func TestCommitKeepsForeignFallbackTag(t *testing.T) {
	t.Parallel()
	_, host := newRegistry(t, false)
	img, _ := random.Image(512, 1)
	d, _ := img.Digest()
	app := host + "/app"
	before := pushOld(t, app+":latest")
	foreign := pushOld(t, app+":sha256-"+d.Hex) // an image, not an index
	_, err := commit(t, []string{app + ":latest"}, fixture(t), img)
	var ce *exporter.CommitError
	if !errors.As(err, &ce) || ce.Stage != exporter.StageTags || !strings.Contains(err.Error(), "not an OCI image index") {
		t.Fatalf("err = %v", err)
	}
	if got := headDigest(t, app+":sha256-"+d.Hex); got != foreign {
		t.Fatalf("fallback tag overwritten")
	}
	if got := headDigest(t, app+":latest"); got != before {
		t.Fatalf("primary tag moved")
	}
}

// Without an image (the daemon's artifacts repository), a refused manifest
// still fails the commit before any tag moves.
func TestCommitWithoutImageManifestRefused(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, false)
	rec.setFail(func(r *http.Request) int {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256:") {
			return http.StatusBadRequest
		}
		return 0
	})
	plan, err := exporter.NewRepositoryPlan(host+"/artifacts", "latest", fixture(t), platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := exporter.New(plan, exporter.WithImageID("sha256:abcd"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Commit(context.Background(), nil)
	var ce *exporter.CommitError
	if !errors.As(err, &ce) || ce.Stage != exporter.StageManifests {
		t.Fatalf("err = %v, want a failure in the manifests stage", err)
	}
	for _, r := range rec.requests() {
		if r.method == http.MethodPut && strings.Contains(r.path, "/manifests/") && !strings.Contains(r.path, "/manifests/sha256:") {
			t.Fatalf("a tag moved: %s %s", r.method, r.path)
		}
	}
}

// The referrers probe is retried like any request: one 503 from a registry
// that serves the referrers API does not make the export write a fallback
// tag there.
func TestCommitRetriesReferrersProbe(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, true)
	var mu sync.Mutex
	probes := 0
	rec.setFail(func(r *http.Request) int {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/referrers/") {
			return 0
		}
		mu.Lock()
		defer mu.Unlock()
		probes++
		if probes == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	img, _ := random.Image(512, 1)
	d, _ := img.Digest()
	app := host + "/app"
	if _, err := commit(t, []string{app + ":latest"}, fixture(t), img); err != nil {
		t.Fatal(err)
	}
	if probes < 2 {
		t.Fatalf("%d referrers probes, want the 503 retried", probes)
	}
	if _, err := remote.Head(mustRef(t, app+":sha256-"+d.Hex)); err == nil {
		t.Fatal("a fallback tag was written on a registry that serves the referrers API")
	}
}

// A re-export over existing artifact tags settles the ownership check with
// HEADs: the tags hold the very manifests about to be written (their small
// files are hashed before the upload anyway), or the previous image's
// artifacts, so no manifest is read. A tag that already names the manifest
// it is to name (the same app image: a reproducible build) is not written
// again; one that names the previous image's artifact moves.
func TestCommitReexportChecksOwnershipWithHeads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		sameImage bool
		wantPuts  int // PUTs of artifact tags in the re-export
	}{
		{name: "the same app image: the tags already name the manifests", sameImage: true, wantPuts: 0},
		{name: "a new app image: the tags move", sameImage: false, wantPuts: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, host := newRegistry(t, false)
			img, _ := random.Image(512, 1)
			app := host + "/app"
			first, err := commit(t, []string{app + ":latest"}, fixture(t), img)
			if err != nil {
				t.Fatal(err)
			}
			ours := map[string]bool{} // the artifact manifests of the first export
			for _, p := range first.Artifacts {
				ours[p.Manifest.Descriptor.Digest.String()] = true
			}
			next := img
			var prev []exporter.Option
			if !tc.sameImage {
				next, _ = random.Image(512, 1)
				d, _ := img.Digest() // as analyzed.toml names it
				prev = append(prev, exporter.WithPreviousImage(app+"@"+d.String()))
			}
			before := len(rec.requests())
			plan, err := exporter.NewPlan([]string{app + ":latest"}, fixture(t), platform.TagTemplate{}, nil)
			must(t, err)
			tx, err := exporter.New(plan, prev...)
			must(t, err)
			res, err := tx.Commit(context.Background(), next)
			must(t, err)
			heads, puts := 0, 0
			for _, r := range rec.requests()[before:] {
				if r.method == http.MethodGet && ours[r.path[strings.LastIndex(r.path, "/")+1:]] {
					t.Errorf("the export read the artifact manifest %s, which a HEAD settles", r.path)
				}
				if !strings.Contains(r.path, "/manifests/") || strings.Contains(r.path, "/manifests/sha256") || strings.HasSuffix(r.path, "/latest") {
					continue
				}
				switch r.method {
				case http.MethodGet:
					t.Errorf("the ownership check read %s", r.path)
				case http.MethodHead:
					heads++
				case http.MethodPut:
					puts++
				}
			}
			if heads != 3 {
				t.Fatalf("%d HEADs of artifact tags, want 3", heads)
			}
			if puts != tc.wantPuts {
				t.Fatalf("%d PUTs of artifact tags, want %d", puts, tc.wantPuts)
			}
			// Either way each tag names the manifest the result reports.
			for _, p := range res.Artifacts {
				d, err := remote.Head(mustRef(t, app+":"+p.Artifact.Tag))
				must(t, err)
				if d.Digest != p.Manifest.Descriptor.Digest {
					t.Errorf("tag %s names %s, want %s", p.Artifact.Tag, d.Digest, p.Manifest.Descriptor.Digest)
				}
			}
			if len(res.Moved) != 5 {
				t.Errorf("moved %v, want the 3 artifact tags, the fallback index and latest", res.Moved)
			}
		})
	}
}
