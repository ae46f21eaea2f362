package exporter_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	alog "github.com/apex/log"
	"github.com/apex/log/handlers/memory"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// commitLogged commits arts with img under names and the options, and
// returns the messages logged at warning level.
func commitLogged(t *testing.T, names []string, arts []*artifacts.Artifact, img v1.Image, tmpl platform.TagTemplate, opts ...exporter.Option) []string {
	t.Helper()
	h := memory.New()
	plan, err := exporter.NewPlan(names, arts, tmpl, nil)
	must(t, err)
	tx, err := exporter.New(plan, append(opts, exporter.WithLogger(&alog.Logger{Handler: h, Level: alog.InfoLevel}))...)
	must(t, err)
	if _, err := tx.Commit(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	var warns []string
	for _, e := range h.Entries {
		if e.Level == alog.WarnLevel {
			warns = append(warns, e.Message)
		}
	}
	return warns
}

func countContaining(msgs []string, s string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// A rebuild of an image this lifecycle signed, without a key, says once
// that the new digest is unsigned; with a key it says nothing.
func TestCommitWarnsWhenASignedImageIsNoLongerSigned(t *testing.T) {
	t.Parallel()
	for _, withKey := range []bool{false, true} {
		t.Run(map[bool]string{false: "no key", true: "a key"}[withKey], func(t *testing.T) {
			t.Parallel()
			_, host := newRegistry(t, false)
			app := host + "/app"
			img, _ := random.Image(128, 1)
			if _, err := commitSigned(t, []string{app + ":latest"}, fixture(t), img, exporter.WithSigner(newSigner(t))); err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			next, _ := random.Image(128, 1)
			opts := []exporter.Option{exporter.WithPreviousImage(app + "@" + d.String())}
			if withKey {
				opts = append(opts, exporter.WithSigner(newSigner(t)))
			}
			warns := commitLogged(t, []string{app + ":latest"}, fixture(t), next, platform.TagTemplate{}, opts...)
			want := 1
			if withKey {
				want = 0
			}
			if n := countContaining(warns, "so the new image digest and its artifacts are unsigned"); n != want {
				t.Fatalf("%d unsigned warnings, want %d: %q", n, want, warns)
			}
		})
	}
}

// A stale artifact's warning names the tag the previous export published
// it under: the declared tag through the platform's tag template.
func TestStaleWarningNamesTheTemplatedTag(t *testing.T) {
	t.Parallel()
	_, host := newRegistry(t, false)
	app := host + "/app"
	tmpl, err := platform.ParseTagTemplate("{image-tag}-{tag}")
	must(t, err)
	img, _ := random.Image(128, 1)
	arts := fixture(t) // wasm, junit, sarif
	commitLogged(t, []string{app + ":v1"}, arts, img, tmpl)
	d, _ := img.Digest()
	next, _ := random.Image(128, 1)
	warns := commitLogged(t, []string{app + ":v1"}, arts[:2], next, tmpl, exporter.WithPreviousImage(app+"@"+d.String()))
	if n := countContaining(warns, "tag "+app+":v1-sarif still names the previous image's artifact"); n != 1 {
		t.Fatalf("%d stale warnings naming %s:v1-sarif, want 1: %q", n, app, warns)
	}
}

// A digest cache file that cannot be used is named in one warning; a good
// one, or none, in no warning.
func TestCommitWarnsOfAnUnusableDigestCache(t *testing.T) {
	t.Parallel()
	for _, bad := range []bool{true, false} {
		t.Run(map[bool]string{true: "unusable", false: "absent"}[bad], func(t *testing.T) {
			t.Parallel()
			_, host := newRegistry(t, false)
			layers := t.TempDir()
			writeLayer(t, layers, "examples/wasm", "wasm", "[[artifact]]\ntag = \"wasm\"\ntype = \"application/wasm\"\nfile = \"app.wasm\"\n", map[string]string{"app.wasm": "\x00asm"})
			if bad {
				must(t, os.MkdirAll(filepath.Join(layers, ".cnb-artifacts"), 0o755))
				must(t, os.WriteFile(filepath.Join(layers, ".cnb-artifacts", "digests.json"), []byte("not json"), 0o644))
			}
			cache := artifacts.OpenDigestCache(layers)
			decls, err := artifacts.Load(layers, []artifacts.Buildpack{{ID: "examples/wasm", Version: "1"}})
			must(t, err)
			a, err := artifacts.Build(decls[0], artifacts.WithDigestCache(cache))
			must(t, err)
			img, _ := random.Image(128, 1)
			warns := commitLogged(t, []string{host + "/app:latest"}, []*artifacts.Artifact{a}, img, platform.TagTemplate{}, exporter.WithDigestCache(cache))
			want := 0
			if bad {
				want = 1
			}
			if n := countContaining(warns, "Ignored the artifacts digest cache"); n != want {
				t.Fatalf("%d digest cache warnings, want %d: %q", n, want, warns)
			}
		})
	}
}

// The empty config, which artifacts and every signature share, is asked
// for once per repository: a blob this transaction put is not asked about
// again.
func TestCommitAsksForASharedBlobOnce(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, false)
	img, _ := random.Image(128, 1)
	if _, err := commitSigned(t, []string{host + "/app:latest"}, fixture(t), img, exporter.WithSigner(newSigner(t))); err != nil {
		t.Fatal(err)
	}
	const empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" // "{}"
	heads := 0
	for _, r := range rec.requests() {
		if r.method == "HEAD" && strings.HasSuffix(r.path, "/blobs/"+empty) {
			heads++
		}
	}
	if heads != 1 {
		t.Fatalf("%d HEADs of the empty config, want 1", heads)
	}
}
