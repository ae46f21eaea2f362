//go:build e2e

// Package e2e runs `pack build` (pack v0.38.2, tools/bin/pack) on this
// machine's Docker Engine with a builder made from our lifecycle tarball
// (out/lifecycle-v<version>.linux.x86-64.tgz) and the samples/ buildpacks,
// and our lifecycle image (out/lifecycle-image), against a Debian
// docker-registry (CNCF distribution 2.8) on 127.0.0.1. The engine starts
// with no images and can pull nothing but what the tests push, so the tests
// build the base images from scratch (busybox-static) with
// go-containerregistry.
//
// Run through `make e2e`, which builds and packages the lifecycle and the
// tools and sets LIFECYCLE_DIR, TOOLS_BIN and LIFECYCLE_IMAGE_LAYOUT.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/internal/stack"
	"github.com/cnb-artifacts/lifecycle/platform"
)

const (
	// EnvLifecycleImageLayout is the OCI layout `make package` writes the
	// lifecycle image to.
	EnvLifecycleImageLayout = "LIFECYCLE_IMAGE_LAYOUT"

	packTimeout = 10 * time.Minute

	// The warning of our exporter on the daemon target (docs/spec.md 11, 12).
	daemonSkipWarning = "Skipping 3 artifact(s), the docker daemon cannot hold OCI artifacts"
	daemonSkipReason  = "the docker daemon cannot hold OCI artifacts"

	// The app images are <registry>/e2e/<name>.
	appNamespace = "e2e"
)

// The artifacts the sample buildpacks declare for samples/app, by tag.
var wantArtifacts = map[string]struct{ buildpack, layer, typ string }{
	"wasm":  {"examples/wasm", "wasm", "application/vnd.wasm.config.v0+json"},
	"0.1.0": {"examples/helm", "chart", "application/vnd.cncf.helm.config.v1+json"},
	"junit": {"examples/tests", "report", "application/vnd.cnb.junit.report.v1+xml"},
}

// env is what every pack test shares: the registry (behind the counting
// proxy), the builder and the lifecycle image in it.
type env struct {
	pack, oras, helm string
	packHome         string
	registry         string // proxy host:port; everything goes through it
	proxy            *harness.CountingProxy
	builder          string
	lifecycleImage   string
	// builderSBOM and lifecycleImageSBOM are builder and lifecycleImage
	// with CNB_ARTIFACTS_SBOM=referrers in their environment (sbomOn).
	builderSBOM        string
	lifecycleImageSBOM string
	// lifecycleImages are the images the untrusted builds run with: ours,
	// and a workaround when ours cannot run as pack runs it (see setup).
	lifecycleImages  []lifecycleImage
	lifecycleVersion string
	tarball          string          // our release tarball, for builders
	runImage         string          // the stack's run image, by digest
	app              string          // samples/app
	packNames        map[string]bool // volumes and images pack named; see cleanupDocker
	daemonImageIDs   map[string]bool // IDs of the daemon builds
}

type lifecycleImage struct {
	desc, ref, suffix string
}

// TestPack sets up once (registry, base images, lifecycle image, builder)
// and runs each pack scenario as a subtest; a failing scenario does not stop
// the others.
func TestPack(t *testing.T) {
	start := time.Now()
	e := setup(t)
	t.Logf("setup took %s", time.Since(start).Round(time.Millisecond))

	t.Run("trusted builder publishes the app and its artifacts (creator)", func(t *testing.T) {
		repo := e.registry + "/" + appNamespace + "/app-trusted"
		out, rep := e.build(t, 0, repo, "--publish", "--trust-builder")
		if !runs(out, "creator") {
			t.Errorf("pack did not run the creator:\n%s", out)
		}
		// The input unset: no SBOM artifact, though samples/helm writes SBOMs.
		e.checkPublished(t, repo, out, rep, false)
	})

	for _, li := range e.lifecycleImages {
		t.Run("untrusted builder with "+li.desc+" publishes the app and its artifacts (separate phases)", func(t *testing.T) {
			repo := e.registry + "/" + appNamespace + "/app-untrusted" + li.suffix
			out, rep := e.build(t, 0, repo, "--publish", "--lifecycle-image", li.ref)
			for _, phase := range []string{"analyzer", "detector", "restorer", "builder", "exporter"} {
				if !runs(out, phase) {
					t.Errorf("pack did not run the %s (separate phases expected)", phase)
				}
			}
			if runs(out, "creator") {
				t.Errorf("pack ran the creator for an untrusted builder:\n%s", out)
			}
			e.checkPublished(t, repo, out, rep, false)
		})
	}

	t.Run("daemon build skips the artifacts with a warning", func(t *testing.T) {
		// Names in our registry's namespace, so cleanup finds them; nothing
		// is pushed there. Each mode has its own.
		daemonRepo := func(mode string) string {
			return e.registry + "/" + appNamespace + "/app-daemon-" + strings.Map(func(r rune) rune {
				if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
					return r
				}
				return '-'
			}, strings.ToLower(mode))
		}
		modes := []struct {
			name  string
			flags []string
		}{{"trusted", []string{"--trust-builder"}}}
		for _, li := range e.lifecycleImages {
			modes = append(modes, struct {
				name  string
				flags []string
			}{"untrusted with " + li.desc, []string{"--lifecycle-image", li.ref}})
		}
		for _, mode := range modes {
			t.Run(mode.name, func(t *testing.T) {
				img := daemonRepo(mode.name) + ":latest"
				out, rep := e.build(t, 0, img, mode.flags...)
				if n := strings.Count(out, daemonSkipWarning); n != 1 {
					t.Errorf("want the warning %q once in pack's output, got %d times:\n%s", daemonSkipWarning, n, out)
				}
				id := strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", img))
				if !strings.HasPrefix(id, "sha256:") {
					t.Fatalf("docker image inspect %s: %q", img, id)
				}
				e.daemonImageIDs[id] = true // a later build may leave it untagged
				// lifecycle writes the image ID without its "sha256:".
				if "sha256:"+rep.Image.ImageID != id {
					t.Errorf("report.toml image-id %q, daemon has %q", rep.Image.ImageID, id)
				}
				if len(rep.Artifacts) != len(wantArtifacts) {
					t.Fatalf("report.toml has %d artifacts, want %d", len(rep.Artifacts), len(wantArtifacts))
				}
				for _, a := range rep.Artifacts {
					if a.Skipped != daemonSkipReason || len(a.Refs) != 0 {
						t.Errorf("artifact %s: skipped %q refs %v; want skipped %q and no refs", a.Tag, a.Skipped, a.Refs, daemonSkipReason)
					}
				}
				if tags := listTags(t, daemonRepo(mode.name)); len(tags) > 0 {
					t.Errorf("a daemon build pushed to the registry: tags %v", tags)
				}
			})
		}
	})

	// With SBOMs on (the builder's environment): the first build publishes
	// them as referrers; the rebuild, which reuses the chart's launch layer
	// (lifecycle restores its SBOMs), publishes the same SBOMs, uploading
	// nothing, and they list the reused layer's packages.
	t.Run("rebuild with unchanged sources reuses layers and uploads no artifact blob", func(t *testing.T) {
		repo := e.registry + "/" + appNamespace + "/app-rebuild"
		out, first := e.build(t, 0, repo, "--publish", "--builder", e.builderSBOM, "--trust-builder")
		if !runs(out, "creator") {
			t.Errorf("pack did not run the creator:\n%s", out)
		}
		firstSBOMs := e.checkSBOMs(t, repo, out, "Adding", first)
		artifactBlobs := e.artifactBlobs(t, first)
		e.proxy.Reset()
		out, second := e.build(t, 0, repo, "--publish", "--builder", e.builderSBOM, "--trust-builder")
		uploads := e.proxy.Uploads()
		t.Logf("blob uploads during the rebuild: %d %v", len(uploads), uploads)
		for _, u := range uploads {
			if u.Digest != "" && artifactBlobs[u.Digest] != "" {
				t.Errorf("the rebuild uploaded artifact blob %s (%s) again: %s", u.Digest, artifactBlobs[u.Digest], u)
			}
			if u.Mount != "" && artifactBlobs[u.Mount] != "" {
				t.Errorf("the rebuild mounted artifact blob %s (%s) again: %s", u.Mount, artifactBlobs[u.Mount], u)
			}
		}
		if len(uploads) != 0 {
			t.Errorf("the rebuild uploaded %d blob(s), want none: %v\nregistry requests during the rebuild:\n%s",
				len(uploads), uploads, e.proxy.RequestLog())
		}
		if !regexp.MustCompile(`Reusing layer '[^']+'`).MatchString(out) {
			t.Errorf("the rebuild reused no layer:\n%s", out)
		}
		if first.Image.Digest != second.Image.Digest {
			t.Errorf("image digest changed on rebuild: %s -> %s", first.Image.Digest, second.Image.Digest)
		}
		if got, want := refsByTag(second), refsByTag(first); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("artifact refs changed on rebuild:\n first %v\nsecond %v", want, got)
		}
		e.checkPublished(t, repo, out, second, true)
		if !strings.Contains(out, "Reusing layer 'examples/helm:chart'") {
			t.Errorf("the rebuild did not reuse the chart's launch layer, whose SBOMs lifecycle restores:\n%s", out)
		}
		if got := e.checkSBOMs(t, repo, out, "Adding", second); fmt.Sprint(got) != fmt.Sprint(firstSBOMs) {
			t.Errorf("SBOM artifacts changed on rebuild: first %v, second %v", firstSBOMs, got)
		}
	})

	t.Run("no credential reaches a buildpack", e.checkNoCredentialReachesBuildpacks)

	t.Run("untrusted rebuild carries, pack rebase then reattach keeps the artifacts attached", e.checkRebuildRebaseReattach)

	t.Run("signing: everything the tags name verifies with cosign (trusted, untrusted, rebuild, rebase + reattach)", e.checkSigning)

	t.Run("untrusted builder without --lifecycle-image fails loudly", func(t *testing.T) {
		// pack names the lifecycle image after lifecycle.toml's version:
		// docker.io/buildpacksio/lifecycle:0.21.17+artifacts, which is not a
		// valid tag, so the build fails before any phase instead of running
		// the stock exporter, which would publish no artifact.
		wantImage := "docker.io/buildpacksio/lifecycle:" + e.lifecycleVersion
		if !strings.Contains(e.lifecycleVersion, "+") {
			t.Fatalf("lifecycle version %q has no build metadata, so %s is a valid tag and the trap does not hold", e.lifecycleVersion, wantImage)
		}
		repo := e.registry + "/" + appNamespace + "/app-trap"
		out, _ := e.build(t, 1, repo, "--publish")
		// The Docker Engine's words for the invalid tag.
		for _, want := range []string{"fetching lifecycle image", wantImage, "invalid reference format"} {
			if !strings.Contains(out, want) {
				t.Errorf("pack's error does not contain %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "===> ") {
			t.Errorf("a phase ran although the lifecycle image is invalid:\n%s", out)
		}
		if tags := listTags(t, repo); len(tags) > 0 {
			t.Errorf("the failed build pushed tags %v", tags)
		}
	})
}

// setup starts the registry and proxy, pushes the base images and the
// lifecycle image, and creates the builder with pack.
func setup(t *testing.T) *env {
	t.Helper()
	lifecycleDir := harness.LifecycleDir(t)
	layoutDir := os.Getenv(EnvLifecycleImageLayout)
	if layoutDir == "" {
		t.Fatalf("%s is not set; run the tests through `make e2e`", EnvLifecycleImageLayout)
	}
	root, err := filepath.Abs("..")
	must(t, err)
	e := &env{
		pack:     harness.Tool(t, "pack"),
		oras:     harness.Tool(t, "oras"),
		helm:     harness.Tool(t, "helm"),
		packHome: t.TempDir(),
		app:      filepath.Join(root, "samples", "app"),
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})").CombinedOutput(); err != nil {
		t.Fatalf("the Docker daemon does not answer (pack needs it for every build): %v\n%s", err, out)
	} else {
		t.Logf("Docker Engine %s", strings.TrimSpace(string(out)))
	}

	var desc struct {
		Lifecycle struct{ Version string } `toml:"lifecycle"`
	}
	if _, err := toml.DecodeFile(filepath.Join(lifecycleDir, "lifecycle.toml"), &desc); err != nil || desc.Lifecycle.Version == "" {
		t.Fatalf("reading the version from %s/lifecycle.toml: %v", lifecycleDir, err)
	}
	e.lifecycleVersion = desc.Lifecycle.Version
	tarball := filepath.Join(filepath.Dir(lifecycleDir), "lifecycle-v"+e.lifecycleVersion+".linux.x86-64.tgz")
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("the lifecycle tarball (`make package` writes it): %v", err)
	}
	e.tarball = tarball

	reg := harness.StartDistribution(t)
	e.proxy = harness.NewCountingProxy(t, reg.Host)
	e.registry = e.proxy.Host
	e.packNames, e.daemonImageIDs = map[string]bool{}, map[string]bool{}
	t.Cleanup(func() { cleanupDocker(t, e.registry, e.packNames, e.daemonImageIDs) })

	e.lifecycleImage = e.registry + "/lifecycle:" + strings.ReplaceAll(e.lifecycleVersion, "+", "_")
	d := pushLayoutIndex(t, layoutDir, e.lifecycleImage)
	t.Logf("lifecycle image %s@%s (from %s)", e.lifecycleImage, d, layoutDir)
	e.lifecycleImages = []lifecycleImage{{desc: "our lifecycle image", ref: e.lifecycleImage}}
	// pack runs the untrusted phases in the lifecycle image as User "root";
	// the Docker Engine refuses to start a container whose image has no
	// /etc/passwd to resolve it ("unable to find user root: no matching
	// entries in passwd file").
	if lifecycleImageLacksPasswd(t, e.lifecycleImage) {
		t.Fatalf("the lifecycle image (out/lifecycle-image, from hack/package) has no /etc/passwd: the Docker Engine cannot start pack's untrusted phases in it as User root")
	}

	// The base images and the builder, made as `make stack` makes them.
	var bps []stack.Buildpack
	for _, bp := range []string{"wasm", "helm", "tests"} {
		b, err := stack.ReadBuildpack(filepath.Join(root, "samples", bp))
		must(t, err)
		bps = append(bps, b)
	}
	res, err := stack.Create(context.Background(), stack.Options{
		Registry: e.registry, LifecycleTarball: tarball, Buildpacks: bps, Dir: t.TempDir(),
		Pack: func(_ context.Context, args ...string) (string, error) {
			out, code := e.runPack(t, args...)
			if code != 0 {
				return out, fmt.Errorf("exit %d", code)
			}
			return out, nil
		},
	})
	if err != nil {
		t.Fatalf("making the stack (internal/stack, as make stack does): %v", err)
	}
	t.Logf("build image %s, run image %s\nbuilder.toml:\n%s", res.BuildImage, res.RunImage, res.BuilderTOML)
	e.builder = res.Builder
	e.runImage = res.RunImage
	// The builder and the lifecycle image with SBOMs on, as an operator
	// derives them (README "Setting the inputs on each platform").
	e.builderSBOM = withEnv(t, e.builder, e.registry+"/builder:sbom", sbomOn)
	e.lifecycleImageSBOM = withEnv(t, e.lifecycleImage, e.lifecycleImage+"-sbom", sbomOn)
	return e
}

// runs reports whether pack's verbose output says it ran phase.
func runs(out, phase string) bool {
	return strings.Contains(out, "Running the '"+phase+"' on OS")
}

// runPack runs pack with its own PACK_HOME and returns its combined output.
func (e *env) runPack(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), packTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.pack, append(args, "--no-color")...)
	cmd.Env = append(os.Environ(), "PACK_HOME="+e.packHome)
	stdout, stderr, code := harness.Run(t, cmd)
	if ctx.Err() != nil {
		t.Errorf("pack %s: timed out after %s", args[0], packTimeout)
	}
	out := stdout + stderr
	t.Logf("pack output:\n%s", out)
	for _, n := range dockerNames.FindAllString(out, -1) {
		e.packNames[n] = true
	}
	return out, code
}

// build runs `pack build image --builder <ours> --path samples/app
// --network host --pull-policy if-not-present --report-output-dir DIR
// --verbose`
// with flags, checks the exit code and returns the output and report.toml
// (zero when the build is expected to fail).
func (e *env) build(t *testing.T, wantCode int, image string, flags ...string) (string, platform.Report) {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"build", image, "--builder", e.builder, "--path", e.app,
		"--network", "host", "--pull-policy", "if-not-present", "--report-output-dir", dir, "--verbose"}, flags...)
	out, code := e.runPack(t, args...)
	var rep platform.Report
	if code != wantCode {
		t.Fatalf("pack build: exit %d, want %d%s", code, wantCode, refusal(out))
	}
	if wantCode != 0 {
		return out, rep
	}
	path := filepath.Join(dir, "report.toml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pack wrote no report.toml with --report-output-dir: %v", err)
	}
	if rep, err = harness.DecodeReport(raw); err != nil {
		t.Fatalf("report.toml: %v\n%s", err, raw)
	}
	t.Logf("report.toml:\n%s", raw)
	return out, rep
}

// refusal picks the lines of pack's output that say what failed, for the
// failure message (the full output is logged).
func refusal(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "Error") || strings.Contains(l, "error") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return ":\n" + strings.Join(lines, "\n")
}

// checkPublished checks a published build: the report's image digest is the
// registry's, pack printed it, each artifact's refs resolve to manifests
// whose subject is the app image, oras discover lists them and helm pulls
// the chart. With sboms, the report's SBOM artifacts are left to
// checkSBOMs; without, any is unexpected.
func (e *env) checkPublished(t *testing.T, repo, out string, rep platform.Report, sboms bool) {
	t.Helper()
	desc, err := remote.Head(mustRef(t, repo+":latest"))
	if err != nil {
		t.Fatalf("the app image is not in the registry: %v", err)
	}
	if rep.Image.Digest != desc.Digest.String() {
		t.Errorf("report.toml digest %s, registry has %s", rep.Image.Digest, desc.Digest)
	}
	if rep.Image.ManifestSize != desc.Size {
		t.Errorf("report.toml manifest-size %d, registry has %d", rep.Image.ManifestSize, desc.Size)
	}
	if !strings.Contains(out, "*** Digest: "+desc.Digest.String()) {
		t.Errorf("pack did not print the image digest %s", desc.Digest)
	}

	seen := map[string]bool{}
	var digests []string
	arts := rep.Artifacts
	if sboms {
		arts = declared(rep)
	}
	for _, a := range arts {
		want, ok := wantArtifacts[a.Tag]
		if !ok || seen[a.Tag] {
			t.Errorf("unexpected artifact in report.toml: %+v", a)
			continue
		}
		seen[a.Tag] = true
		if a.Buildpack != want.buildpack || a.Layer != want.layer || a.Type != want.typ || a.Skipped != "" {
			t.Errorf("artifact %s: got %s/%s %s skipped %q, want %s/%s %s", a.Tag, a.Buildpack, a.Layer, a.Type, a.Skipped, want.buildpack, want.layer, want.typ)
		}
		if len(a.Refs) != 1 || !strings.HasPrefix(a.Refs[0], repo+":"+a.Tag+"@sha256:") {
			t.Errorf("artifact %s: refs %v, want one %s:%s@sha256:…", a.Tag, a.Refs, repo, a.Tag)
			continue
		}
		d := a.Refs[0][strings.LastIndex(a.Refs[0], "@")+1:]
		digests = append(digests, d)
		got, err := remote.Get(mustRef(t, repo+":"+a.Tag))
		if err != nil {
			t.Errorf("artifact %s: tag not in the registry: %v", a.Tag, err)
			continue
		}
		if got.Digest.String() != d || got.Size != a.ManifestSize {
			t.Errorf("artifact %s: registry has %s (%d bytes), report.toml says %s (%d bytes)", a.Tag, got.Digest, got.Size, d, a.ManifestSize)
		}
		var m v1.Manifest
		if err := json.Unmarshal(got.Manifest, &m); err != nil {
			t.Errorf("artifact %s: %v", a.Tag, err)
			continue
		}
		if m.Subject == nil || m.Subject.Digest != desc.Digest {
			t.Errorf("artifact %s: subject %v, want the app image %s", a.Tag, m.Subject, desc.Digest)
		}
		if !strings.Contains(out, a.Refs[0]) {
			t.Errorf("pack's output does not list the artifact %s", a.Refs[0])
		}
	}
	if len(seen) != len(wantArtifacts) {
		t.Errorf("report.toml lists %d of the %d artifacts: %v", len(seen), len(wantArtifacts), seen)
	}

	stdout, stderr, code := harness.Run(t, exec.Command(e.oras, "discover", "--plain-http", "--format", "json", repo+"@"+desc.Digest.String()))
	if code != 0 {
		t.Errorf("oras discover: exit %d\n%s%s", code, stdout, stderr)
	} else {
		for _, d := range digests {
			if !strings.Contains(stdout, d) {
				t.Errorf("oras discover does not list %s:\n%s", d, stdout)
			}
		}
		for _, w := range wantArtifacts {
			if !strings.Contains(stdout, w.typ) {
				t.Errorf("oras discover does not list type %s:\n%s", w.typ, stdout)
			}
		}
	}

	dir := t.TempDir()
	stdout, stderr, code = harness.Run(t, exec.Command(e.helm, "pull", "oci://"+repo, "--version", "0.1.0", "--plain-http", "-d", dir))
	if code != 0 {
		t.Errorf("helm pull: exit %d\n%s%s", code, stdout, stderr)
	} else {
		// helm names the file after the repository, not the chart.
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(repo)+"-0.1.0.tgz")); err != nil {
			t.Errorf("helm pull wrote no chart: %v\n%s%s", err, stdout, stderr)
		}
	}
}

// artifactBlobs returns the config and layer digests of the report's
// artifacts, each with a description.
func (e *env) artifactBlobs(t *testing.T, rep platform.Report) map[string]string {
	t.Helper()
	blobs := map[string]string{}
	for _, a := range rep.Artifacts {
		if len(a.Refs) == 0 {
			t.Fatalf("artifact %s has no ref", a.Tag)
		}
		got, err := remote.Get(mustRef(t, a.Refs[0]))
		if err != nil {
			t.Fatalf("artifact %s: %v", a.Refs[0], err)
		}
		var m v1.Manifest
		must(t, json.Unmarshal(got.Manifest, &m))
		what := a.Tag
		if isSBOM(a) {
			what = "SBOM " + a.Type
		}
		if m.Config.Size > 2 { // not the empty config, {}: every registry has it
			blobs[m.Config.Digest.String()] = what + " config"
		}
		for _, l := range m.Layers {
			blobs[l.Digest.String()] = what + " layer " + l.Annotations["org.opencontainers.image.title"]
		}
	}
	if len(blobs) == 0 {
		t.Fatal("the artifacts have no blobs")
	}
	return blobs
}

// refsByTag returns the refs of rep's artifacts by tag; an untagged SBOM
// artifact's by its type.
func refsByTag(rep platform.Report) map[string][]string {
	m := map[string][]string{}
	for _, a := range rep.Artifacts {
		k := a.Tag
		if isSBOM(a) {
			k = a.Type
		}
		m[k] = a.Refs
	}
	return m
}

func mustRef(t testing.TB, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	must(t, err)
	return r
}

func mustRepo(t testing.TB, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	must(t, err)
	return r
}

// listTags lists repo's tags: none when the registry does not know the
// repository (404 NAME_UNKNOWN). Any other error fails the test, so that an
// unreachable registry is never taken for "nothing pushed".
func listTags(t testing.TB, repo string) []string {
	t.Helper()
	tags, err := remote.List(mustRepo(t, repo))
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("list the tags of %s: %v", repo, err)
	}
	return tags
}

func docker(t testing.TB, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// dockerNames are the cache volumes and ephemeral images pack named in
// its output: cleanup removes exactly these, plus the images named in our
// registry.
var dockerNames = regexp.MustCompile(`pack-cache-[A-Za-z0-9_.-]+|pack\.local/[a-z0-9/]+(:[A-Za-z0-9_.-]+)?`)

// cleanupDocker removes what the tests put into the daemon: the daemon
// builds, if a later build left them untagged, every image named in our
// registry (the builder, the run and lifecycle images pack
// pulled, the daemon builds; the registry's port is this run's), and the
// cache volumes and ephemeral images pack named in its output (pack removes
// its ephemeral images itself; this is for a pack that was killed). Nothing
// else is touched.
func cleanupDocker(t testing.TB, registry string, packNames, imageIDs map[string]bool) {
	out, err := exec.Command("docker", "image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").Output()
	if err != nil {
		t.Errorf("cleanup: docker image ls: %v", err)
		return
	}
	var images, volumes []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		r, id, _ := strings.Cut(line, " ")
		switch {
		case strings.HasPrefix(r, registry+"/") || packNames[r] || packNames[strings.TrimSuffix(r, ":latest")]:
			images = append(images, r)
		case r == "<none>:<none>" && imageIDs[id]:
			images = append(images, id)
		}
	}
	out, err = exec.Command("docker", "volume", "ls", "-q").Output()
	if err != nil {
		t.Errorf("cleanup: docker volume ls: %v", err)
		return
	}
	for _, v := range strings.Fields(string(out)) {
		if packNames[v] {
			volumes = append(volumes, v)
		}
	}
	if len(images) > 0 {
		if out, err := exec.Command("docker", append([]string{"image", "rm", "-f"}, images...)...).CombinedOutput(); err != nil {
			t.Errorf("cleanup: docker image rm: %v\n%s", err, out)
		}
	}
	if len(volumes) > 0 {
		if out, err := exec.Command("docker", append([]string{"volume", "rm", "-f"}, volumes...)...).CombinedOutput(); err != nil {
			t.Errorf("cleanup: docker volume rm: %v\n%s", err, out)
		}
	}
	t.Logf("cleanup: removed images %v and volumes %v", images, volumes)
}
