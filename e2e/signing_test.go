//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Where the signing key and its password are inside the containers pack
// runs: the trusted builder's creator (a --volume bind) and the private
// lifecycle image's exporter (files in the image). docs/signing.md.
const (
	signingDir          = "/signing"
	signingKeyPath      = signingDir + "/cosign.key"
	signingPasswordPath = signingDir + "/password"
)

var signingEnv = []string{
	platform.EnvSigningKey + "=" + signingKeyPath,
	platform.EnvSigningPasswordFile + "=" + signingPasswordPath,
}

// signingKey is a cosign key pair and, in dir, its private key and
// password as a platform provides them: cosign.key and password, owned by
// root, mode 0600, in a directory only root can enter.
type signingKey struct {
	dir, password string
	key           []byte // the encrypted private key's bytes
	pub, otherPub string // cosign.pub, and another pair's public key
}

func newSigningKey(t *testing.T) signingKey {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("the signing e2e needs root: the key files are root-owned, mode 0600, as a platform must give them")
	}
	k := signingKey{password: "e2e-signing-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")}
	priv, pub := harness.CosignKeyPair(t, k.password)
	_, k.otherPub = harness.CosignKeyPair(t, "another-password")
	k.pub = pub
	var err error
	k.key, err = os.ReadFile(priv)
	must(t, err)
	k.dir = t.TempDir()
	must(t, os.Chmod(k.dir, 0o700))
	must(t, os.WriteFile(filepath.Join(k.dir, "cosign.key"), k.key, 0o600))
	must(t, os.WriteFile(filepath.Join(k.dir, "password"), []byte(k.password), 0o600))
	for _, f := range []string{"cosign.key", "password"} {
		p := filepath.Join(k.dir, f)
		must(t, os.Chown(p, 0, 0))
		must(t, os.Chmod(p, 0o600)) // whatever the umask
	}
	return k
}

// hostEnv is the key's inputs as the host's paths, for reattach.
func (k signingKey) hostEnv() []string {
	return []string{
		platform.EnvSigningKey + "=" + filepath.Join(k.dir, "cosign.key"),
		platform.EnvSigningPasswordFile + "=" + filepath.Join(k.dir, "password"),
	}
}

// checkNoSecretInOutput fails the test when out holds the password or a
// line of the private key's ciphertext.
func (k signingKey) checkNoSecretInOutput(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, k.password) {
		t.Errorf("%s's output holds the signing key's password", what)
	}
	if strings.Contains(out, harness.CosignKeyCanary(t, k.key)) {
		t.Errorf("%s's output holds a line of the private key's ciphertext", what)
	}
}

// withSigningKey pushes to dst the linux/amd64 image of the lifecycle image
// src with the key and its password added as root-owned 0600 files in
// /signing (a directory only root can enter) and signingEnv in its
// environment, and returns dst.
//
// Why this is the way for an untrusted pack build: pack v0.38.2 runs the
// exporter in a container of the lifecycle image (--lifecycle-image), whose
// environment it gets, and gives that container no --volume (only with
// --layout); the builder image's environment never reaches it. The
// lifecycle image's containers (analyzer, restorer, exporter) run no
// buildpack, and detect and build run in the builder image, so a key in the
// lifecycle image is out of every buildpack's reach. The cost: the key is
// in an image's layer, readable by whoever can pull that image, so the
// image must live in a private repository (here: this test's registry,
// never a shared one).
func withSigningKey(t *testing.T, src, dst string, k signingKey) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mod := time.Unix(0, 0)
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(signingDir, "/") + "/", Mode: 0o700, ModTime: mod}))
	for name, b := range map[string][]byte{signingKeyPath: k.key, signingPasswordPath: []byte(k.password)} {
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(name, "/"), Mode: 0o600, Size: int64(len(b)), ModTime: mod}))
		_, err := tw.Write(b)
		must(t, err)
	}
	must(t, tw.Close())
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	})
	must(t, err)
	img, err := remote.Image(mustRef(t, src))
	must(t, err)
	img, err = mutate.AppendLayers(img, layer)
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	cfg := cf.Config
	cfg.Env = append(append([]string(nil), cfg.Env...), signingEnv...)
	img, err = mutate.Config(img, cfg)
	must(t, err)
	must(t, remote.Write(mustRef(t, dst), img))
	return dst
}

// checkSigned checks that everything repo's tags name, and everything rep
// lists, carries our signature: rep's [image-signature] signs the app
// image repo:latest holds; each artifact entry has a signature, a cosign
// signature referrer (artifactType, subject) of its manifest; `cosign
// verify --key` (harness.CosignVerify: offline, no transparency log, OCI
// 1.1 referrers) accepts repo:latest, every artifact tag and every
// artifact digest (untagged SBOMs included) with the key's public key and
// refuses repo:latest and an artifact with another key.
func checkSigned(t *testing.T, repo string, rep platform.Report, k signingKey) {
	t.Helper()
	app, err := remote.Head(mustRef(t, repo+":latest"))
	must(t, err)
	if rep.Image.Digest != app.Digest.String() {
		t.Fatalf("report image %s, %s:latest is %s", rep.Image.Digest, repo, app.Digest)
	}
	// The report's word first, then cosign's, which is checked whatever
	// the report says.
	switch {
	case rep.ImageSignature == nil:
		t.Errorf("report.toml has no [image-signature]")
	case rep.ImageSignature.Signed != app.Digest.String():
		t.Errorf("[image-signature] signed %s, the app image is %s", rep.ImageSignature.Signed, app.Digest)
	default:
		checkSignatureManifest(t, repo, rep.ImageSignature.Signature, app.Digest.String())
	}

	refs := []string{repo + ":latest", repo + "@" + app.Digest.String()}
	arts := 0
	for _, a := range rep.Artifacts {
		if a.Skipped != "" || len(a.Refs) == 0 {
			t.Errorf("artifact %s (%s): not published: %+v", a.Tag, a.Type, a)
			continue
		}
		arts++
		ref := a.Refs[0]
		d := ref[strings.LastIndex(ref, "@")+1:]
		if a.Signature == "" {
			t.Errorf("artifact %s: report.toml has no signature", ref)
		} else {
			checkSignatureManifest(t, repo, a.Signature, d)
		}
		refs = append(refs, repo+"@"+d)
		if a.Tag != "" {
			refs = append(refs, repo+":"+a.Tag)
		}
	}
	if n := len(declared(rep)); n != len(wantArtifacts) || arts < len(wantArtifacts) {
		t.Errorf("report.toml lists %d declared artifacts (%d published in all), want %d", n, arts, len(wantArtifacts))
	}
	for _, a := range rep.Artifacts {
		if a.Type == harness.CosignSignatureArtifactType {
			t.Errorf("report.toml lists a signature as an artifact (carried?): %+v", a)
		}
	}
	for _, ref := range refs {
		if _, err := harness.CosignVerify(t, ref, k.pub); err != nil {
			t.Errorf("cosign verify %s with the signing key's public key: %v", ref, err)
		}
	}
	for _, ref := range []string{refs[0], refs[len(refs)-1]} {
		_, err := harness.CosignVerify(t, ref, k.otherPub)
		var cerr *harness.CosignError
		if !errors.As(err, &cerr) {
			t.Errorf("cosign verify %s with another key: %v, want a refusal", ref, err)
		}
	}
	t.Logf("cosign verify ran on %d references", len(refs))
}

// checkSignatureManifest checks that repo@sig is a cosign signature
// referrer of signed: an image manifest with cosign's artifactType whose
// subject is signed.
func checkSignatureManifest(t *testing.T, repo, sig, signed string) {
	t.Helper()
	got, err := remote.Get(mustRef(t, repo+"@"+sig))
	if err != nil {
		t.Errorf("signature %s of %s: %v", sig, signed, err)
		return
	}
	var m v1.Manifest
	must(t, json.Unmarshal(got.Manifest, &m))
	if m.Subject == nil || m.Subject.Digest.String() != signed {
		t.Errorf("signature %s: subject %v, want %s", sig, m.Subject, signed)
	}
	if string(m.ArtifactType) != harness.CosignSignatureArtifactType && string(m.Config.MediaType) != harness.CosignSignatureArtifactType {
		t.Errorf("signature %s: artifactType %q config %q, want %s", sig, m.ArtifactType, m.Config.MediaType, harness.CosignSignatureArtifactType)
	}
}

// checkSigning: pack builds with a signing key (issue 21), SBOMs on, so
// declared, carried and SBOM artifacts are all signed. After each step
// everything the tags name verifies with cosign (checkSigned).
func (e *env) checkSigning(t *testing.T) {
	k := newSigningKey(t)

	// Trusted: the creator runs in the builder image's container. The
	// builder's environment names the files, --volume binds the directory
	// that holds them (root-owned, 0600: the creator refuses a key the CNB
	// user can read, since the buildpacks run in the same container).
	t.Run("trusted builder (creator), --volume and the builder's environment", func(t *testing.T) {
		builder := withEnv(t, e.builderSBOM, e.registry+"/builder:signing", signingEnv...)
		repo := e.registry + "/" + appNamespace + "/app-signed-trusted"
		flags := []string{"--publish", "--builder", builder, "--trust-builder", "--volume", k.dir + ":" + signingDir + ":ro"}
		out, rep := e.build(t, 0, repo, flags...)
		if !runs(out, "creator") {
			t.Errorf("pack did not run the creator:\n%s", out)
		}
		k.checkNoSecretInOutput(t, "pack build", out)
		checkSigned(t, repo, rep, k)

		// The rebuild reuses every layer: the same app digest, signed
		// again (the same signatures: the payload is deterministic).
		out, second := e.build(t, 0, repo, flags...)
		k.checkNoSecretInOutput(t, "pack build", out)
		checkSigned(t, repo, second, k)
	})

	// Untrusted: the exporter runs in the lifecycle image, which gets no
	// --volume when publishing: a private lifecycle image carries the key
	// (withSigningKey says why, docs/signing.md the risk). Then a rebuild
	// that carries the chart's artifact to a new subject, pack rebase
	// (which signs nothing: the new digest is unsigned), and reattach with
	// the key, which signs the rebased image and what it re-attaches.
	t.Run("untrusted builder, private lifecycle image; rebuild carries; pack rebase then reattach", func(t *testing.T) {
		li := withSigningKey(t, e.lifecycleImageSBOM, e.lifecycleImage+"-signing", k)
		repo := e.registry + "/" + appNamespace + "/app-signed-untrusted"
		flags := []string{"--publish", "--lifecycle-image", li}
		out, first := e.build(t, 0, repo, flags...)
		if !runs(out, "exporter") || runs(out, "creator") {
			t.Errorf("pack did not run the separate exporter:\n%s", out)
		}
		k.checkNoSecretInOutput(t, "pack build", out)
		checkSigned(t, repo, first, k)

		out, second := e.build(t, 0, repo, flags...)
		if !strings.Contains(out, "Carrying artifact 'examples/helm:chart'") {
			t.Fatalf("the untrusted rebuild did not carry the chart's artifact:\n%s", out)
		}
		k.checkNoSecretInOutput(t, "pack build", out)
		carried := 0
		for _, a := range declared(second) {
			if a.CarriedFrom != "" {
				carried++
			}
		}
		if carried == 0 {
			t.Errorf("report.toml lists no carried artifact")
		}
		checkSigned(t, repo, second, k)

		old := second.Image.Digest
		rebased := e.packRebase(t, repo, old, "signing-patched")
		// What pack rebase made is unsigned: the verification below is
		// reattach's doing.
		if _, err := harness.CosignVerify(t, repo+":latest", k.pub); err == nil {
			t.Fatalf("cosign verify accepted the image pack rebase made, before reattach signed it")
		}

		reportPath := filepath.Join(t.TempDir(), "report.toml")
		cmd := exec.Command(filepath.Join(harness.LifecycleDir(t), "lifecycle-artifacts"), "reattach", "-from", repo+"@"+old, "-report", reportPath, repo+":latest")
		cmd.Env = append(os.Environ(), k.hostEnv()...)
		stdout, stderr, code := harness.Run(t, cmd)
		if code != 0 {
			t.Fatalf("reattach: exit %d\n%s%s", code, stdout, stderr)
		}
		k.checkNoSecretInOutput(t, "reattach", stdout+stderr)
		rep := harness.MustReadReport(t, reportPath)
		if rep.Image.Digest != rebased.Digest.String() {
			t.Fatalf("reattach report: image %s, the rebased image is %s", rep.Image.Digest, rebased.Digest)
		}
		e.checkAttached(t, repo, rep)
		checkSigned(t, repo, rep, k)
	})
}
