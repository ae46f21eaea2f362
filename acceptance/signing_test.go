//go:build acceptance

package acceptance_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Issue 21: the app image and every artifact signed inside the export
// transaction (CNB_ARTIFACTS_SIGNING_KEY, CNB_ARTIFACTS_SIGNING_PASSWORD_FILE),
// black box, through the built binaries. docs/spec.md section 17 is the
// contract; each test says which behaviour it checks ("[S…]" below) and
// so which of the section's rules (R17-n).
//
//	[S-verify] R17-2  cosign verify --key (offline, no tlog) accepts the app image
//	             (by tag and by digest) and every artifact, refuses another key
//	[S-shape] R17-2   each signature is an OCI manifest, artifactType cosign's, the
//	             empty config, one simple-signing layer with the signature
//	             annotation, io.buildpacks.artifact.signature=cosign, subject =
//	             what it signs; exactly one per signed manifest
//	[S-report] R17-5  report.toml: [image-signature] signed/signature and each
//	             [[artifacts]] signature = the signature referrers found
//	[S-unset] R17-1   no key: no signature, no [image-signature], no signature key
//	[S-off] R17-8     policy off: the key is ignored with a warning, nothing signed
//	[S-badkey] R17-6  a key that cannot be used (wrong password, FIFO, missing
//	             file): exit 3, nothing written, no hang, no password echoed
//	[S-rebase] R17-10  the rebaser signs the rebased image and its artifacts
//	[S-reattach] R17-10 reattach with the key signs what it re-attaches
//	[S-carry] R17-10   a carried artifact's new manifest is signed
//	[S-warn] R17-11    rebase/reattach/export without key of an image we signed:
//	             one "Not signing" warning naming it; none if never signed
//	[S-layout] R17-9  -layout: signatures are unnamed index entries, valid ECDSA
//	             over the payload, payload digest = subject
//	[S-daemon] R17-9  daemon: one "Not signing" warning, exit 0, nothing signed
//	[S-refused] R17-4 a registry that refuses a signature manifest fails the
//	             export (64) under every policy; no tag moves, and what the
//	             tags name still verifies
//	[S-secret] R17-7  no buildpack finds the key or its password (environments,
//	             files it can read)
//	[S-creator] R17-7 creator refuses (exit 3) a key or password file the CNB user
//	             can read; root-only 0600 signs

// codeInvalidArgs is lifecycle's exit code for invalid arguments
// (cmd.CodeForInvalidArgs), which a key that cannot be used gives.
const codeInvalidArgs = 3

// The OCI 1.1 signature's own marker (artifacts.AnnotationSignature).
const annotationOurSignature = "io.buildpacks.artifact.signature"

// signingKey is a cosign key pair and the password file of its private
// key (the password and one trailing newline, as `echo` writes it).
type signingKey struct {
	priv, pub, passwordFile, password string
}

func newSigningKey(t *testing.T, password string) signingKey {
	t.Helper()
	priv, pub := harness.CosignKeyPair(t, password)
	pw := filepath.Join(filepath.Dir(priv), "password")
	must(t, os.WriteFile(pw, []byte(password+"\n"), 0o600))
	return signingKey{priv: priv, pub: pub, passwordFile: pw, password: password}
}

// env is the platform's signing input for k.
func (k signingKey) env() []string {
	return []string{platform.EnvSigningKey + "=" + k.priv, platform.EnvSigningPasswordFile + "=" + k.passwordFile}
}

// signedWorkspace is an export workspace with four artifacts: the samples'
// three tagged ones (wasm, 0.1.0, junit) and an untagged CycloneDX SBOM
// (with sbomEnv).
func signedWorkspace(t *testing.T, run string) *fixture.Workspace {
	t.Helper()
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	writeLaunchSBOM(t, w, "1.3.0")
	return w
}

var sbomEnv = []string{platform.EnvSBOM + "=referrers"}

// signatureReferrers lists the referrers of repo@digest whose artifactType
// is cosign's signature, through the referrers API or, on a registry
// without it, the sha256-<hex> fallback index (which must then exist).
func signatureReferrers(t *testing.T, reg *harness.Registry, repo name.Repository, digest string) []v1.Descriptor {
	t.Helper()
	if reg != nil && !reg.Referrers {
		if _, err := remote.Head(repo.Tag(fallbackTag(digest))); err != nil {
			t.Fatalf("%s@%s: no fallback index %s: %v", repo, digest, fallbackTag(digest), err)
		}
	}
	idx, err := remote.Referrers(repo.Digest(digest))
	must(t, err)
	im, err := idx.IndexManifest()
	must(t, err)
	var out []v1.Descriptor
	for _, d := range im.Manifests {
		if d.ArtifactType == harness.CosignSignatureArtifactType {
			out = append(out, d)
		}
	}
	return out
}

// checkSignatureManifest checks [S-shape] on the manifest raw (digest
// sigDigest), the signature of subject, and returns its payload and
// signature (decoded).
func checkSignatureManifest(t *testing.T, raw []byte, subject string, blob func(v1.Hash) []byte) (payload, sig []byte) {
	t.Helper()
	var m v1.Manifest
	must(t, json.Unmarshal(raw, &m))
	if m.MediaType != types.OCIManifestSchema1 || m.ArtifactType != harness.CosignSignatureArtifactType {
		t.Errorf("[S-shape] signature of %s: mediaType %q, artifactType %q\n%s", subject, m.MediaType, m.ArtifactType, raw)
	}
	if m.Config.MediaType != emptyConfigType || m.Config.Size != int64(len(emptyConfig)) {
		t.Errorf("[S-shape] signature of %s: config %+v, want the empty descriptor", subject, m.Config)
	}
	if m.Annotations[annotationOurSignature] != "cosign" {
		t.Errorf("[S-shape] signature of %s: annotations %v, want %s=cosign", subject, m.Annotations, annotationOurSignature)
	}
	if m.Subject == nil || m.Subject.Digest.String() != subject {
		t.Fatalf("[S-shape] signature subject %+v, want %s", m.Subject, subject)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != harness.CosignSimpleSigningMediaType {
		t.Fatalf("[S-shape] signature of %s: layers %+v, want one %s", subject, m.Layers, harness.CosignSimpleSigningMediaType)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Layers[0].Annotations[harness.CosignSignatureAnnotation])
	if err != nil || len(sig) == 0 {
		t.Fatalf("[S-shape] signature of %s: annotation %s %q: %v", subject, harness.CosignSignatureAnnotation, m.Layers[0].Annotations[harness.CosignSignatureAnnotation], err)
	}
	payload = blob(m.Layers[0].Digest)
	if d := payloadDigest(t, payload); d != subject {
		t.Errorf("[S-shape] signature of %s: payload names %s\n%s", subject, d, payload)
	}
	return payload, sig
}

// payloadDigest is the docker-manifest-digest of a simple-signing payload.
func payloadDigest(t *testing.T, payload []byte) string {
	t.Helper()
	var p struct {
		Critical struct {
			Image struct {
				DockerManifestDigest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.Critical.Type != "cosign container image signature" {
		t.Fatalf("simple signing payload %s: %v", payload, err)
	}
	return p.Critical.Image.DockerManifestDigest
}

// checkRegistrySignature checks that repo@subject has exactly one
// signature referrer, that it is want (the report's) when want is given,
// and [S-shape] on it; it returns the signature's digest.
func checkRegistrySignature(t *testing.T, reg *harness.Registry, repo name.Repository, subject, want string) string {
	t.Helper()
	sigs := signatureReferrers(t, reg, repo, subject)
	if len(sigs) != 1 {
		t.Fatalf("[S-shape] %s@%s has %d signature referrers, want 1: %+v", repo, subject, len(sigs), sigs)
	}
	got := sigs[0].Digest.String()
	if want != "" && got != want {
		t.Errorf("[S-report] %s@%s: report names signature %s, the registry has %s", repo, subject, want, got)
	}
	desc, err := remote.Get(repo.Digest(got))
	must(t, err)
	checkSignatureManifest(t, desc.Manifest, subject, func(d v1.Hash) []byte {
		l, err := remote.Layer(repo.Digest(d.String()))
		must(t, err)
		rc, err := l.Compressed()
		must(t, err)
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
		must(t, err)
		return b
	})
	return got
}

// splitRef is a report ref's repository and digest (repo[:tag]@sha256:…).
func splitRef(t *testing.T, ref string) (name.Repository, string) {
	t.Helper()
	base, digest, ok := strings.Cut(ref, "@")
	if !ok {
		t.Fatalf("ref %q has no digest", ref)
	}
	r, err := name.ParseReference(base)
	must(t, err)
	return r.Context(), digest
}

// checkSignedExport checks [S-verify], [S-shape] and [S-report] for the
// image app (by tag) and the report at reportPath: the app image and each
// published artifact have exactly one signature referrer, the one the
// report names, and cosign verifies each with k and refuses it with
// other. It wants at least minArtifacts artifacts, and returns the report.
func checkSignedExport(t *testing.T, reg *harness.Registry, app, reportPath string, k, other signingKey, minArtifacts int) platform.Report {
	t.Helper()
	rep := readReport(t, reportPath)
	appDigest := head(t, app).String()
	repo := mustRef(t, app).Context()
	if rep.Image.Digest != appDigest {
		t.Fatalf("%s holds %s, report %s", app, appDigest, rep.Image.Digest)
	}
	if rep.ImageSignature == nil || rep.ImageSignature.Signed != appDigest || !strings.HasPrefix(rep.ImageSignature.Signature, "sha256:") {
		t.Fatalf("[S-report] [image-signature] %+v, want signed = %s", rep.ImageSignature, appDigest)
	}
	checkRegistrySignature(t, reg, repo, appDigest, rep.ImageSignature.Signature)
	checkVerifies(t, app, k.pub, other.pub)
	checkVerifies(t, repo.Name()+"@"+appDigest, k.pub, other.pub)

	if len(rep.Artifacts) < minArtifacts {
		t.Fatalf("report lists %d artifacts, want at least %d: %+v", len(rep.Artifacts), minArtifacts, rep.Artifacts)
	}
	for _, a := range rep.Artifacts {
		if a.Skipped != "" || len(a.Refs) == 0 {
			t.Fatalf("artifact %+v not published", a)
		}
		if !strings.HasPrefix(a.Signature, "sha256:") {
			t.Errorf("[S-report] artifact %s (%s): signature %q", a.Tag, a.Type, a.Signature)
		}
		for _, ref := range a.Refs {
			r, d := splitRef(t, ref)
			sig := checkRegistrySignature(t, reg, r, d, a.Signature)
			if sig == rep.ImageSignature.Signature {
				t.Errorf("[S-shape] artifact %s has the app image's signature manifest", a.Tag)
			}
			checkVerifies(t, r.Name()+"@"+d, k.pub, other.pub)
		}
	}
	return rep
}

// checkUnsigned checks that neither the report nor the registry has a
// signature of the image app or of any artifact of the report.
func checkUnsigned(t *testing.T, reg *harness.Registry, app, reportPath string) {
	t.Helper()
	raw, err := os.ReadFile(reportPath)
	must(t, err)
	if bytes.Contains(raw, []byte("image-signature")) || bytes.Contains(raw, []byte("signature =")) {
		t.Errorf("[S-unset] report.toml lists a signature:\n%s", raw)
	}
	appDigest := head(t, app).String()
	repo := mustRef(t, app).Context()
	if sigs := signatureReferrers(t, nil, repo, appDigest); len(sigs) != 0 {
		t.Errorf("[S-unset] %s has signature referrers %+v", app, sigs)
	}
	checkArtifactsUnsigned(t, "[S-unset]", readReport(t, reportPath))
}

// checkArtifactsUnsigned checks that no artifact of rep has a signature
// referrer; label names the check in failures.
func checkArtifactsUnsigned(t *testing.T, label string, rep platform.Report) {
	t.Helper()
	for _, a := range rep.Artifacts {
		for _, ref := range a.Refs {
			r, d := splitRef(t, ref)
			if sigs := signatureReferrers(t, nil, r, d); len(sigs) != 0 {
				t.Errorf("%s artifact %s has signature referrers %+v", label, ref, sigs)
			}
		}
	}
}

// TestSigningExport [S-verify] [S-shape] [S-report]: the exporter, given a
// cosign key (encrypted, its password in a file with a trailing newline),
// signs the app image and its four artifacts (three tagged, one untagged
// SBOM), on distribution 2.8 and v3 (fallback index) and olareg (referrers
// API); cosign verifies each by its digest, and the app image by its tag
// too, and refuses them with another key pair; report.toml names the
// signatures the registry has.
func TestSigningExport(t *testing.T) {
	k := newSigningKey(t, "correct horse")
	other := newSigningKey(t, "another")
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			w := signedWorkspace(t, run)
			out, code := export(t, w, false, "0.13", append(slices.Clone(sbomEnv), k.env()...), app)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			if strings.Contains(out, k.password) {
				t.Errorf("the output holds the password:\n%s", out)
			}
			rep := checkSignedExport(t, reg, app, w.Report, k, other, 4)
			var tagged, untagged int
			for _, a := range rep.Artifacts {
				if a.Tag == "" {
					untagged++
				} else {
					tagged++
				}
			}
			if tagged != 3 || untagged != 1 {
				t.Errorf("report artifacts %+v: want 3 tagged and the untagged SBOM", rep.Artifacts)
			}
			// The app image's referrers: the four artifacts and one signature.
			idx, err := remote.Referrers(mustRef(t, reg.Host+"/app@"+rep.Image.Digest).(name.Digest))
			must(t, err)
			im, err := idx.IndexManifest()
			must(t, err)
			if len(im.Manifests) != 5 {
				t.Errorf("the app image has %d referrers, want 4 artifacts and 1 signature: %+v", len(im.Manifests), im.Manifests)
			}
		})
	}
}

// TestSigningUnset [S-unset] [S-off]: without CNB_ARTIFACTS_SIGNING_KEY an
// export with artifacts writes no signature and no [image-signature]; under
// CNB_ARTIFACTS_POLICY=off the key is ignored with one warning.
func TestSigningUnset(t *testing.T) {
	k := newSigningKey(t, "pw")
	for _, start := range []func(testing.TB) *harness.Registry{harness.StartDistribution, harness.StartOlareg} {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			w := signedWorkspace(t, run)
			out, code := export(t, w, false, "0.13", sbomEnv, app)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			if strings.Contains(out, "Not signing") {
				t.Errorf("[S-warn] a warning about signing, with no key ever given:\n%s", out)
			}
			if n := len(readReport(t, w.Report).Artifacts); n != 4 {
				t.Fatalf("report lists %d artifacts, want 4", n)
			}
			checkUnsigned(t, reg, app, w.Report)

			w = signedWorkspace(t, run)
			off := reg.Host + "/off:latest"
			out, code = export(t, w, false, "0.13", append([]string{platform.EnvPolicy + "=off"}, k.env()...), off)
			if code != 0 {
				t.Fatalf("policy off: exit %d\n%s", code, out)
			}
			if n := strings.Count(out, "Not signing"); n != 1 || !strings.Contains(out, platform.EnvSigningKey+" is ignored") {
				t.Errorf("[S-off] want one warning that the key is ignored, got %d:\n%s", n, out)
			}
			checkUnsigned(t, reg, off, w.Report)
		})
	}
}

// runWithin runs cmd, killing it after d: a command that hangs fails the
// test instead of hanging it.
func runWithin(t *testing.T, d time.Duration, bin string, args []string, env []string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	stdout, stderr, code := harness.Run(t, cmd)
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s (killed)\n%s%s", filepath.Base(bin), d, stdout, stderr)
	}
	return stdout + stderr, code
}

// TestSigningBadKey [S-badkey]: a key that cannot be used (a wrong
// password, a FIFO as the key or as the password file, a missing key, a
// password file without a key) fails the export with exit 3 before any
// write: the registry's repositories and tags are as they were after a
// first, signed export; the password is never printed; a FIFO is refused
// at once.
func TestSigningBadKey(t *testing.T) {
	k := newSigningKey(t, "right password")
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	app := reg.Host + "/app"
	w := signedWorkspace(t, run)
	if out, code := export(t, w, false, "0.13", k.env(), app+":latest"); code != 0 {
		t.Fatalf("first export: exit %d\n%s", code, out)
	}
	repos, tags := catalog(t, reg.Host), tagDigests(t, app)

	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong")
	must(t, os.WriteFile(wrong, []byte("wrong password\n"), 0o600))
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"wrong password", []string{platform.EnvSigningKey + "=" + k.priv, platform.EnvSigningPasswordFile + "=" + wrong}, k.priv},
		{"no password", []string{platform.EnvSigningKey + "=" + k.priv}, k.priv},
		{"FIFO as the key", []string{platform.EnvSigningKey + "=" + fifo, platform.EnvSigningPasswordFile + "=" + k.passwordFile}, "not a regular file"},
		{"FIFO as the password file", []string{platform.EnvSigningKey + "=" + k.priv, platform.EnvSigningPasswordFile + "=" + fifo}, "not a regular file"},
		{"missing key", []string{platform.EnvSigningKey + "=" + filepath.Join(dir, "absent.key"), platform.EnvSigningPasswordFile + "=" + k.passwordFile}, "absent.key"},
		{"password file without key", []string{platform.EnvSigningPasswordFile + "=" + k.passwordFile}, platform.EnvSigningKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Another app, so that a write would move the tag.
			plain := fixture.Plain()
			plain.Version = "2.0.0"
			w := fixture.New(t, run, append([]fixture.Buildpack{plain}, fixture.Samples()...)...)
			dirL := harness.LifecycleDir(t)
			env := append(append(w.Env("0.13"), sourceDateEpoch), c.env...)
			out, code := runWithin(t, 30*time.Second, harness.Binary(t, "exporter"),
				append(w.Args(filepath.Join(dirL, "launcher")), app+":latest"), env)
			if code != codeInvalidArgs {
				t.Fatalf("exit %d, want %d\n%s", code, codeInvalidArgs, out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("the error does not name %q:\n%s", c.want, out)
			}
			for _, secret := range []string{k.password, "wrong password"} {
				if strings.Contains(out, secret) {
					t.Errorf("the output holds a password:\n%s", out)
				}
			}
			if got := catalog(t, reg.Host); !slices.Equal(got, repos) {
				t.Errorf("repositories %v, were %v", got, repos)
			}
			if got := tagDigests(t, app); !maps.Equal(got, tags) {
				t.Errorf("tags moved: %v, were %v", got, tags)
			}
			if _, err := os.Stat(w.Report); !os.IsNotExist(err) {
				t.Errorf("a report was written: %v", err)
			}
		})
	}
}

// rebaseWith runs our rebaser on app onto runImage with env added, and
// returns its output, exit code and report path.
func rebaseWith(t *testing.T, w *fixture.Workspace, runImage, app string, env []string) (string, string) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "rebase.toml")
	c := exec.Command(harness.Binary(t, "rebaser"), "-force", "-run-image", runImage, "-report", report, app)
	c.Env = append(append(w.Env("0.13"), sourceDateEpoch), env...)
	stdout, stderr, code := harness.Run(t, c)
	if code != 0 {
		t.Fatalf("rebaser: exit %d\n%s%s", code, stdout, stderr)
	}
	return stdout + stderr, report
}

// wantUnsignedWarning wants exactly one "Not signing" warning in out, the
// one that names was, an image this lifecycle signed.
func wantUnsignedWarning(t *testing.T, out, was string) {
	t.Helper()
	want := "Not signing: " + was + " was signed by this lifecycle, but no " + platform.EnvSigningKey + " is given"
	if n := strings.Count(out, "Not signing"); n != 1 || !strings.Contains(out, want) {
		t.Errorf("[S-warn] want exactly one warning %q, got %d:\n%s", want, n, out)
	}
}

// TestSigningRebaser [S-rebase] [S-warn]: our rebaser with the key signs
// the rebased image and each artifact it publishes again (cosign verifies
// them); without the key, rebasing an image we signed exits 0 with one
// warning naming it and signs nothing; rebasing an image never signed
// warns of nothing. On distribution 2.8 and olareg.
func TestSigningRebaser(t *testing.T) {
	k := newSigningKey(t, "rebase")
	other := newSigningKey(t, "other")
	for _, start := range []func(testing.TB) *harness.Registry{harness.StartDistribution, harness.StartOlareg} {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			w := signedWorkspace(t, run)
			if out, code := export(t, w, false, "0.13", append(slices.Clone(sbomEnv), k.env()...), app); code != 0 {
				t.Fatalf("export: exit %d\n%s", code, out)
			}
			built := head(t, app)

			patched := patchRunImage(t, run, reg.Host+"/run:patched")
			out, report := rebaseWith(t, w, patched, app, k.env())
			if head(t, app) == built {
				t.Fatal("the rebase kept the digest")
			}
			if strings.Contains(out, "Not signing") {
				t.Errorf("a warning with the key given:\n%s", out)
			}
			checkSignedExport(t, reg, app, report, k, other, 4)

			// Without the key: the image the rebase above signed.
			signed := head(t, app)
			patched2 := patchRunImage(t, patched, reg.Host+"/run:patched-again")
			out, report = rebaseWith(t, w, patched2, app, nil)
			if head(t, app) == signed {
				t.Fatal("the second rebase kept the digest")
			}
			wantUnsignedWarning(t, out, reg.Host+"/app@"+signed.String())
			checkUnsigned(t, reg, app, report)

			// Never signed: no warning.
			never := reg.Host + "/never:latest"
			wn := signedWorkspace(t, run)
			if out, code := export(t, wn, false, "0.13", sbomEnv, never); code != 0 {
				t.Fatalf("export: exit %d\n%s", code, out)
			}
			out, report = rebaseWith(t, wn, patched, never, nil)
			if strings.Contains(out, "Not signing") {
				t.Errorf("[S-warn] a warning for an image never signed:\n%s", out)
			}
			checkUnsigned(t, reg, never, report)
		})
	}
}

// TestSigningReattach [S-reattach] [S-warn]: after upstream's rebase,
// `lifecycle-artifacts reattach` with the key signs the rebased image and
// every artifact it re-attaches (cosign verifies them); without the key,
// re-attaching from an image we signed exits 0 with one warning naming it.
func TestSigningReattach(t *testing.T) {
	k := newSigningKey(t, "reattach")
	other := newSigningKey(t, "other")
	for _, start := range []func(testing.TB) *harness.Registry{harness.StartDistribution, harness.StartOlareg} {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			w := signedWorkspace(t, run)
			if out, code := export(t, w, false, "0.13", append(slices.Clone(sbomEnv), k.env()...), app); code != 0 {
				t.Fatalf("export: exit %d\n%s", code, out)
			}
			old := head(t, app)
			patched := patchRunImage(t, run, reg.Host+"/run:patched")
			rebase := exec.Command(filepath.Join(harness.LifecycleDir(t), "lifecycle"), "rebase", "-force", "-run-image", patched,
				"-report", filepath.Join(t.TempDir(), "rebase.toml"), app)
			rebase.Env = append(w.Env("0.13"), sourceDateEpoch)
			if stdout, stderr, code := harness.Run(t, rebase); code != 0 {
				t.Fatalf("lifecycle rebase: exit %d\n%s%s", code, stdout, stderr)
			}
			if head(t, app) == old {
				t.Fatal("the rebase kept the digest")
			}
			reattach := func(env []string) (string, string) {
				t.Helper()
				report := filepath.Join(t.TempDir(), "reattach.toml")
				c := exec.Command(harness.Binary(t, "lifecycle-artifacts"), "reattach", "-from", reg.Host+"/app@"+old.String(), "-report", report, app)
				c.Env = append(w.Env("0.13"), env...)
				stdout, stderr, code := harness.Run(t, c)
				if code != 0 {
					t.Fatalf("reattach: exit %d\n%s%s", code, stdout, stderr)
				}
				return stdout + stderr, report
			}

			// Without the key first: nothing is signed yet for the rebased
			// image, and the warning names the image we signed.
			out, report := reattach(nil)
			wantUnsignedWarning(t, out, reg.Host+"/app@"+old.String())
			checkUnsigned(t, reg, app, report)

			out, report = reattach(k.env())
			if strings.Contains(out, "Not signing") {
				t.Errorf("a warning with the key given:\n%s", out)
			}
			rep := checkSignedExport(t, reg, app, report, k, other, 4)
			for _, a := range rep.Artifacts {
				if a.CarriedFrom == "" {
					t.Errorf("artifact %+v not marked carried", a)
				}
			}
		})
	}
}

// TestSigningCarry [S-carry]: a rebuild (the creator, with the key, twice)
// whose Helm buildpack reuses its chart layer carries the chart artifact
// for the new image: its new manifest, and everything else the second
// build publishes, is signed, and cosign verifies it.
func TestSigningCarry(t *testing.T) {
	k := newSigningKey(t, "carry")
	other := newSigningKey(t, "other")
	for _, start := range []func(testing.TB) *harness.Registry{harness.StartDistribution, harness.StartOlareg} {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			samples := fixture.Samples()
			first := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
			if out, code := create(t, first, false, "0.13", k.env(), app); code != 0 {
				t.Fatalf("first build: exit %d\n%s", code, out)
			}
			before := manifestOf(t, reg.Host+"/app:0.1.0")

			plain := fixture.Plain()
			plain.Version = "2.0.0"
			second := fixture.NewBuild(t, run, append([]fixture.Buildpack{plain}, samples...)...)
			keep := "#!/bin/sh\nset -eu\nprintf '[types]\\n  launch = true\\n' > \"$1/chart.toml\"\n"
			must(t, os.WriteFile(filepath.Join(second.Buildpacks, "examples_helm", "1.0.0", "bin", "build"), []byte(keep), 0o755))
			out, code := create(t, second, false, "0.13", k.env(), app)
			if code != 0 {
				t.Fatalf("second build: exit %d\n%s", code, out)
			}
			if !strings.Contains(out, "Carrying artifact 'examples/helm:chart' (tag '0.1.0'") {
				t.Fatalf("the chart was not carried:\n%s", out)
			}
			rep := checkSignedExport(t, reg, app, second.Report, k, other, 3)
			after := manifestOf(t, reg.Host+"/app:0.1.0")
			if after.digest == before.digest {
				t.Fatalf("the chart kept its manifest %s", before.digest)
			}
			var carried int
			for _, a := range rep.Artifacts {
				if a.CarriedFrom != "" {
					carried++
					if a.Tag != "0.1.0" || !strings.HasSuffix(a.Refs[0], "@"+after.digest) {
						t.Errorf("carried %+v, want the chart at %s", a, after.digest)
					}
				}
			}
			if carried != 1 {
				t.Fatalf("%d carried artifacts: %+v", carried, rep.Artifacts)
			}
			// By its tag too: what the chart's tag names verifies.
			checkVerifies(t, reg.Host+"/app:0.1.0", k.pub, other.pub)
		})
	}
}

// TestSigningLayout [S-layout]: with -layout and the key, the app image's
// layout holds one signature per manifest (the app image and each
// artifact) as unnamed index.json entries; each is cosign's shape, its
// payload names its subject, and its ECDSA signature verifies over the
// payload with cosign.pub (sigstore's verifier) and not with another key.
func TestSigningLayout(t *testing.T) {
	k := newSigningKey(t, "layout")
	other := newSigningKey(t, "other")
	layoutDir, runRef, env := layoutTarget(t)
	w := fixture.New(t, runRef, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	out, code := export(t, w, false, "0.13", append(env, k.env()...), "example.com/app:latest")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	appLayout := filepath.Join(layoutDir, "example.com", "app", "latest")
	p, err := layout.FromPath(appLayout)
	must(t, err)
	idx, err := p.ImageIndex()
	must(t, err)
	im, err := idx.IndexManifest()
	must(t, err)

	rep := readReport(t, w.Report)
	if len(rep.Artifacts) != 3 {
		t.Fatalf("report artifacts %+v", rep.Artifacts)
	}
	var appDigest string
	sigs := map[string]string{} // subject -> signature manifest
	for _, d := range im.Manifests {
		refName := d.Annotations["org.opencontainers.image.ref.name"]
		if refName == "latest" {
			appDigest = d.Digest.String()
		}
		if d.ArtifactType != harness.CosignSignatureArtifactType {
			continue
		}
		if refName != "" {
			t.Errorf("[S-layout] signature entry %s is named %q", d.Digest, refName)
		}
		raw, err := p.Bytes(d.Digest)
		must(t, err)
		var m v1.Manifest
		must(t, json.Unmarshal(raw, &m))
		if m.Subject == nil {
			t.Fatalf("[S-layout] signature %s has no subject:\n%s", d.Digest, raw)
		}
		s := m.Subject.Digest.String()
		if sigs[s] != "" {
			t.Errorf("[S-layout] %s has two signatures: %s and %s", s, sigs[s], d.Digest)
		}
		sigs[s] = d.Digest.String()
	}
	// The report's [image] has no digest for a layout (as stock); the
	// app image is index.json's entry named by the tag.
	if appDigest == "" {
		t.Fatalf("no app image entry: %+v", im.Manifests)
	}
	subjects := []string{appDigest}
	reportSigs := map[string]string{}
	if raw, _ := os.ReadFile(w.Report); rep.ImageSignature == nil || rep.ImageSignature.Signed != appDigest {
		t.Logf("report.toml:\n%s", raw)
		t.Errorf("[S-report] [image-signature] %+v, want signed = %s", rep.ImageSignature, appDigest)
	} else {
		reportSigs[appDigest] = rep.ImageSignature.Signature
	}
	for _, a := range rep.Artifacts {
		_, d, _ := strings.Cut(a.Refs[0], "@")
		subjects = append(subjects, d)
		reportSigs[d] = a.Signature
	}
	if len(sigs) != len(subjects) {
		t.Errorf("[S-layout] %d signatures (%v), want one for each of %v", len(sigs), sigs, subjects)
	}

	verifier := loadVerifier(t, k.pub)
	otherVerifier := loadVerifier(t, other.pub)
	for _, s := range subjects {
		sd := sigs[s]
		if sd == "" {
			t.Errorf("[S-layout] %s is not signed", s)
			continue
		}
		if reportSigs[s] != sd {
			t.Errorf("[S-report] %s: report names signature %q, the layout has %s", s, reportSigs[s], sd)
		}
		h, err := v1.NewHash(sd)
		must(t, err)
		raw, err := p.Bytes(h)
		must(t, err)
		payload, sig := checkSignatureManifest(t, raw, s, func(d v1.Hash) []byte {
			b, err := p.Bytes(d)
			must(t, err)
			return b
		})
		if err := verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)); err != nil {
			t.Errorf("[S-layout] signature of %s does not verify with cosign.pub: %v", s, err)
		}
		if err := otherVerifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)); err == nil {
			t.Errorf("[S-layout] signature of %s verifies with another key", s)
		}
	}
}

// loadVerifier reads a cosign public key (PEM) with sigstore's helpers.
func loadVerifier(t *testing.T, pubPath string) signature.Verifier {
	t.Helper()
	b, err := os.ReadFile(pubPath)
	must(t, err)
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	must(t, err)
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	must(t, err)
	return v
}

// TestSigningDaemon [S-daemon]: a daemon export with the key succeeds with
// exactly one "Not signing" warning and signs nothing, with and without
// CNB_ARTIFACTS_DAEMON_REPOSITORY. Runs against this machine's Docker
// Engine (fails without it).
func TestSigningDaemon(t *testing.T) {
	docker(t, "info")
	k := newSigningKey(t, "daemon")
	reg := harness.StartDistribution(t)
	run, app := dockerName(t, "run"), dockerName(t, "app")
	fixture.LoadRunImage(t, run, app)
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"artifacts skipped", nil},
		{"artifacts to a repository", []string{platform.EnvDaemonRepository + "=" + reg.Host + "/app-artifacts"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			out, code := export(t, w, false, "0.13", append(append([]string{"CNB_USE_DAEMON=true"}, c.env...), k.env()...), app)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			if n := strings.Count(out, "Not signing"); n != 1 {
				t.Errorf("[S-daemon] want one \"Not signing\" warning, got %d:\n%s", n, out)
			}
			raw, err := os.ReadFile(w.Report)
			must(t, err)
			if bytes.Contains(raw, []byte("image-signature")) || bytes.Contains(raw, []byte("signature =")) {
				t.Errorf("[S-daemon] report.toml lists a signature:\n%s", raw)
			}
			rep := readReport(t, w.Report)
			if len(rep.Artifacts) != 3 {
				t.Fatalf("report: %+v", rep.Artifacts)
			}
			checkArtifactsUnsigned(t, "[S-daemon]", rep)
		})
	}
}

// TestSigningCreator [S-creator] [S-warn]: the creator refuses, with exit 3
// and a message saying so, a key or password file that the CNB user
// (65534:65534 here) can read (other-readable, its own, or its group's and
// group-readable), writing nothing; a key and password file root owns with
// mode 0600 sign the build, and cosign verifies it. A rebuild without the
// key warns once that the image it replaces was signed.
func TestSigningCreator(t *testing.T) {
	k := newSigningKey(t, "creator")
	other := newSigningKey(t, "other")
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	app := reg.Host + "/app:latest"
	const cnbUID, cnbGID = 65534, 65534

	keyBytes, err := os.ReadFile(k.priv)
	must(t, err)
	pwBytes, err := os.ReadFile(k.passwordFile)
	must(t, err)
	// copyAs writes a copy of content with mode and owner, in a directory
	// of its own.
	copyAs := func(t *testing.T, content []byte, mode os.FileMode, uid, gid int) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "file")
		must(t, os.WriteFile(p, content, 0o600))
		must(t, os.Chown(p, uid, gid))
		must(t, os.Chmod(p, mode))
		return p
	}
	for _, c := range []struct {
		name            string
		keyMode, pwMode os.FileMode
		keyUID, keyGID  int
		readable        string // which file the error names
	}{
		{"key 0644", 0o644, 0o600, 0, 0, "key"},
		{"key 0600 owned by the CNB user", 0o600, 0o600, cnbUID, 0, "key"},
		{"key 0640 of the CNB group", 0o640, 0o600, 0, cnbGID, "key"},
		{"password file 0644", 0o600, 0o644, 0, 0, "password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := copyAs(t, keyBytes, c.keyMode, c.keyUID, c.keyGID)
			pw := copyAs(t, pwBytes, c.pwMode, 0, 0)
			named := map[string]string{"key": key, "password": pw}[c.readable]
			b := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			out, code := create(t, b, false, "0.13", []string{platform.EnvSigningKey + "=" + key, platform.EnvSigningPasswordFile + "=" + pw}, app)
			if code != codeInvalidArgs {
				t.Fatalf("[S-creator] exit %d, want %d\n%s", code, codeInvalidArgs, out)
			}
			if !strings.Contains(out, named) || !strings.Contains(out, "readable by the build user") {
				t.Errorf("[S-creator] the error does not say that %s is readable by the build user:\n%s", named, out)
			}
			if strings.Contains(out, "===> DETECTING") {
				t.Errorf("[S-creator] the build ran:\n%s", out)
			}
			if repos := catalog(t, reg.Host); !slices.Equal(repos, []string{"run"}) {
				t.Errorf("repositories %v: something was pushed", repos)
			}
		})
	}

	t.Run("root-owned 0600 signs", func(t *testing.T) {
		key := copyAs(t, keyBytes, 0o600, 0, 0)
		pw := copyAs(t, pwBytes, 0o600, 0, 0)
		b := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
		out, code := create(t, b, false, "0.13", []string{platform.EnvSigningKey + "=" + key, platform.EnvSigningPasswordFile + "=" + pw}, app)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		checkSignedExport(t, reg, app, b.Report, k, other, 3)
		signed := head(t, app)

		// A rebuild without the key: one warning naming the signed image.
		plain := fixture.Plain()
		plain.Version = "2.0.0"
		b2 := fixture.NewBuild(t, run, append([]fixture.Buildpack{plain}, fixture.Samples()...)...)
		out, code = create(t, b2, false, "0.13", nil, app)
		if code != 0 {
			t.Fatalf("rebuild: exit %d\n%s", code, out)
		}
		wantUnsignedWarning(t, out, reg.Host+"/app@"+signed.String())
		checkUnsigned(t, reg, app, b2.Report)
	})
}

// TestSigningEmptyPassword [S-verify]: a key `cosign generate-key-pair`
// wrote with an empty password (cosign still encrypts it, with the empty
// password) signs without a password file, as signing.LoadKey documents,
// and with a password file holding just a newline; cosign verifies both.
func TestSigningEmptyPassword(t *testing.T) {
	priv, pub := harness.CosignKeyPair(t, "")
	k := signingKey{priv: priv, pub: pub}
	other := newSigningKey(t, "other")
	newline := filepath.Join(t.TempDir(), "password")
	must(t, os.WriteFile(newline, []byte("\n"), 0o600))
	reg := harness.StartOlareg(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"no password file", []string{platform.EnvSigningKey + "=" + priv}},
		{"a newline in the password file", []string{platform.EnvSigningKey + "=" + priv, platform.EnvSigningPasswordFile + "=" + newline}},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := reg.Host + "/" + strings.ReplaceAll(c.name, " ", "-") + ":latest"
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			out, code := export(t, w, false, "0.13", c.env, app)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			checkSignedExport(t, reg, app, w.Report, k, other, 3)
		})
	}
}

// TestSigningRefusedSignatureMovesNoTag [S-refused]: a registry that
// refuses the signature manifests (GitLab's artifact type allow-list,
// emulated: the samples' types are allowed, cosign's is not) fails the
// export with exit 64 under the policies required and best-effort (an
// unsigned image is never published); the tags stay where the first,
// signed export put them, and what they name still verifies.
func TestSigningRefusedSignatureMovesNoTag(t *testing.T) {
	k := newSigningKey(t, "refused")
	other := newSigningKey(t, "other")
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	must(t, err)
	t.Cleanup(proxy.Close)
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	app := proxy.Host + "/app"
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	if out, code := export(t, w, false, "0.13", k.env(), app+":latest"); code != 0 {
		t.Fatalf("first export: exit %d\n%s", code, out)
	}
	before := tagDigests(t, reg.Host+"/app")

	proxy.SetQuirks(faultproxy.Quirks{AllowedTypes: []string{
		"application/vnd.wasm.config.v0+json", "application/vnd.cncf.helm.config.v1+json", "application/vnd.cnb.junit.report.v1+xml"}})
	for _, policy := range []string{"required", "best-effort"} {
		t.Run(policy, func(t *testing.T) {
			plain := fixture.Plain()
			plain.Version = "2.0.0"
			plain.Layers[0].Files = map[string][]byte{"node_modules/left-pad/index.js": []byte("module.exports = s => s.trim()\n")}
			w2 := fixture.New(t, run, append([]fixture.Buildpack{plain}, fixture.Samples()...)...)
			out, code := export(t, w2, false, "0.13", append([]string{platform.EnvPolicy + "=" + policy}, k.env()...), app+":latest")
			if code != platform.CodeRegistryFailed {
				t.Fatalf("[S-refused] exit %d, want %d: the registry refuses every signature\n%s", code, platform.CodeRegistryFailed, out)
			}
			if !strings.Contains(out, "signature") {
				t.Errorf("[S-refused] the error does not say a signature was refused:\n%s", out)
			}
			if after := tagDigests(t, reg.Host+"/app"); !maps.Equal(after, before) {
				t.Errorf("[S-refused] tags moved: %v, were %v", after, before)
			}
		})
	}
	proxy.SetQuirks(faultproxy.Quirks{})
	checkVerifies(t, app+":latest", k.pub, other.pub)
	for _, tag := range []string{"wasm", "0.1.0", "junit"} {
		checkVerifies(t, app+":"+tag, k.pub, other.pub)
	}
}

// TestSigningRepeatAddsNoSignature [S-shape]: publishing again what is
// already signed with the same key adds no signature: a second export of
// the same build (the same app and artifact digests) and a second
// reattach leave one signature per manifest, the one both reports name, as
// a second reattach without a key changes nothing (TestRebaseThenReattach).
// ECDSA signatures are randomised, so a signature made again is another
// manifest: without a check for an existing valid signature, every
// rebuild of an unchanged app, and every reattach, adds one more referrer
// per manifest (up to exporter.maxReferrers, past which reads fail).
func TestSigningRepeatAddsNoSignature(t *testing.T) {
	k := newSigningKey(t, "repeat")
	other := newSigningKey(t, "other")
	reg := harness.StartOlareg(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")

	t.Run("export twice", func(t *testing.T) {
		app := reg.Host + "/app:latest"
		w := signedWorkspace(t, run)
		var digests []string
		for i := range 2 {
			out, code := export(t, w, false, "0.13", append(slices.Clone(sbomEnv), k.env()...), app)
			if code != 0 {
				t.Fatalf("export %d: exit %d\n%s", i+1, code, out)
			}
			digests = append(digests, head(t, app).String())
		}
		if digests[0] != digests[1] {
			t.Fatalf("the same build gave %v: not reproducible, the test proves nothing", digests)
		}
		checkSignedExport(t, reg, app, w.Report, k, other, 4)
	})

	t.Run("reattach twice", func(t *testing.T) {
		app := reg.Host + "/re:latest"
		w := signedWorkspace(t, run)
		if out, code := export(t, w, false, "0.13", append(slices.Clone(sbomEnv), k.env()...), app); code != 0 {
			t.Fatalf("export: exit %d\n%s", code, out)
		}
		old := head(t, app)
		patched := patchRunImage(t, run, reg.Host+"/run:patched")
		rebase := exec.Command(filepath.Join(harness.LifecycleDir(t), "lifecycle"), "rebase", "-force", "-run-image", patched,
			"-report", filepath.Join(t.TempDir(), "rebase.toml"), app)
		rebase.Env = append(w.Env("0.13"), sourceDateEpoch)
		if stdout, stderr, code := harness.Run(t, rebase); code != 0 {
			t.Fatalf("lifecycle rebase: exit %d\n%s%s", code, stdout, stderr)
		}
		for i := range 2 {
			report := filepath.Join(t.TempDir(), "reattach.toml")
			c := exec.Command(harness.Binary(t, "lifecycle-artifacts"), "reattach", "-from", reg.Host+"/re@"+old.String(), "-report", report, app)
			c.Env = append(w.Env("0.13"), k.env()...)
			if stdout, stderr, code := harness.Run(t, c); code != 0 {
				t.Fatalf("reattach %d: exit %d\n%s%s", i+1, code, stdout, stderr)
			}
			checkSignedExport(t, reg, app, report, k, other, 4)
		}
	})
}

// TestSigningKeyNeverReachesBuildpacks [S-secret]: with a key and its
// password given to our creator (root-owned, 0600), a buildpack that reads
// every process environment its user can read, its own, the key and
// password files by path, and every file it can read under the build's
// directories and the temporary directories, finds neither the key nor
// its password; the build signs (the key was used).
func TestSigningKeyNeverReachesBuildpacks(t *testing.T) {
	k := newSigningKey(t, "canary-"+strings.Repeat("p4ss", 4))
	other := newSigningKey(t, "other")
	keyPEM, err := os.ReadFile(k.priv)
	must(t, err)
	// One line of the encrypted key's ciphertext (the first lines are the
	// same in every cosign key: the KDF's parameters), enough to find a copy.
	keyLines := strings.Split(strings.TrimSpace(string(keyPEM)), "\n")
	if len(keyLines) < 8 {
		t.Fatalf("cosign.key has %d lines:\n%s", len(keyLines), keyPEM)
	}
	keyLine := keyLines[len(keyLines)-3]
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	b := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	bin := filepath.Join(b.Buildpacks, "examples_node", "1.0.0", "bin")
	for _, phase := range []string{"detect", "build"} {
		p := filepath.Join(bin, phase)
		orig, err := os.ReadFile(p)
		must(t, err)
		body := strings.TrimPrefix(string(orig), "#!/bin/sh\n")
		dump := filepath.Join(b.Dir, "scan-"+phase)
		files := fmt.Sprintf(`for f in %q %q "$CNB_ARTIFACTS_SIGNING_KEY" "$CNB_ARTIFACTS_SIGNING_PASSWORD_FILE"; do
	[ -n "$f" ] && [ -r "$f" ] && { printf '\n==> %%s\n' "$f"; cat "$f"; } >>"$dump.files" 2>/dev/null && echo "read $f" >>"$dump.read"
done
for d in %q /tmp /var/tmp /dev/shm; do
	find "$d" -type f -readable ! -name 'scan-*' 2>/dev/null | while read -r f; do { printf '\n==> %%s\n' "$f"; cat "$f"; } >>"$dump.files" 2>/dev/null; done
done
`, k.priv, k.passwordFile, b.Dir)
		must(t, os.WriteFile(p, []byte(scanScript(dump)+files+body), 0o755))
	}
	app := reg.Host + "/app:latest"
	out, code := create(t, b, false, "0.13", k.env(), app)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if strings.Contains(out, k.password) || strings.Contains(out, keyLine) {
		t.Fatalf("[S-secret] the output holds the key or its password:\n%s", out)
	}
	for _, phase := range []string{"detect", "build"} {
		dump := filepath.Join(b.Dir, "scan-"+phase)
		env, err := os.ReadFile(dump + ".env")
		must(t, err)
		files, _ := os.ReadFile(dump + ".files")
		read, _ := os.ReadFile(dump + ".read")
		if len(files) == 0 {
			t.Errorf("%s: the scan read no file at all (it can read the app, at least)", phase)
		}
		for what, s := range map[string]string{"password": k.password, "key": keyLine} {
			if strings.Contains(string(env), s) {
				t.Errorf("[S-secret] %s: a buildpack read the %s from a process environment; read:\n%s", phase, what, read)
			}
			for _, f := range strings.Split(string(files), "\n==> ") {
				if path, content, _ := strings.Cut(f, "\n"); strings.Contains(content, s) {
					t.Errorf("[S-secret] %s: a buildpack read the %s from the file %s", phase, what, path)
				}
			}
		}
		if strings.Contains(string(env), platform.EnvSigningKey) {
			// A path, not the key: noted, not refused.
			t.Logf("%s: a buildpack sees the variable %s (the key's path)", phase, platform.EnvSigningKey)
		}
		t.Logf("%s: processes and files read:\n%s", phase, read)
	}
	checkSignedExport(t, reg, app, b.Report, k, other, 3)
}
