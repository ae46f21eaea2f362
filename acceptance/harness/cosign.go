package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// What cosign v2.6.1 writes and reads as an OCI 1.1 signature referrer
// (pkg/oci/remote/write.go WriteSignaturesExperimentalOCI,
// internal/pkg/oci/remote/remote.go ArtifactType, pkg/types/media.go,
// pkg/oci/static/signature.go).
const (
	CosignSignatureArtifactType  = "application/vnd.dev.cosign.artifact.sig.v1+json"
	CosignSimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	CosignSignatureAnnotation    = "dev.cosignproject.cosign/signature"
)

// CosignTimeout bounds every cosign command: a cosign that waits on the
// network (TUF, Rekor, Fulcio) or on a registry is killed and fails the
// test instead of hanging it.
const CosignTimeout = 2 * time.Minute

// emptyTrustedRoot is a Sigstore trusted root (sigstore-go
// root.NewTrustedRootFromJSON) that trusts no certificate authority,
// transparency log, CT log or timestamp authority. Given to
// `cosign verify --trusted-root`, it stops cosign from fetching the public
// trusted root from TUF (cmd/cosign/cli/verify/verify.go: cosign.TrustedRoot()
// runs when neither --trusted-root nor a SIGSTORE_* key file is given), and
// leaves the public key of --key as the only thing trusted.
const emptyTrustedRoot = `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}` + "\n"

// CosignVerifyArgs are the flags CosignVerify gives `cosign verify` besides
// --key, --trusted-root and the reference: plain HTTP to the loopback
// registry, no transparency log (the signatures under test are never
// uploaded to Rekor), no network beyond the registry (--offline), and the
// OCI 1.1 referrer lookup (--experimental-oci11: the referrers API, or the
// sha256-<hex> fallback tag, filtered by artifactType
// CosignSignatureArtifactType).
var CosignVerifyArgs = []string{
	"verify",
	"--allow-http-registry",
	"--insecure-ignore-tlog=true",
	"--offline=true",
	"--experimental-oci11=true",
	"--output=json",
}

// Cosign runs tools/bin/cosign with args, offline and bounded by
// CosignTimeout: a fresh HOME, TMPDIR, TUF_ROOT and an empty Docker config
// (no credential helpers, no ~/.sigstore), no inherited COSIGN_*, SIGSTORE_*
// or TUF_* variables, and every proxy variable pointing at a proxy on
// 127.0.0.1 that refuses and records what it is asked (as Trivy's): Go never
// proxies a loopback address, so the registries under test are reached
// directly, while any request to another host (TUF, Rekor, Fulcio) fails
// and fails the test. env adds variables to the child's environment only
// (COSIGN_PASSWORD, COSIGN_EXPERIMENTAL); their values are never logged. A
// missing binary or a timeout fails the test.
func Cosign(t testing.TB, env []string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	bin := Tool(t, "cosign")
	sb := newOfflineSandbox(t, "COSIGN_", "SIGSTORE_", "TUF_")
	ctx, cancel := context.WithTimeout(context.Background(), CosignTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = sb.home
	cmd.Env = append(append(sb.env, "TUF_ROOT="+filepath.Join(sb.home, "tuf")), env...)
	stdout, stderr, exitCode = Run(t, cmd)
	if ctx.Err() != nil {
		t.Fatalf("cosign %s: no answer within %s (killed)\nstderr:\n%s", firstArg(args), CosignTimeout, stderr)
	}
	sb.check(t, "cosign", stderr)
	return stdout, stderr, exitCode
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// CosignKeyPair runs `cosign generate-key-pair` in a temporary directory
// and returns the paths of the encrypted private key (cosign.key, encrypted
// with password) and of the public key (cosign.pub). The password reaches
// cosign through COSIGN_PASSWORD in its environment only.
func CosignKeyPair(t testing.TB, password string) (privPath, pubPath string) {
	t.Helper()
	dir := t.TempDir()
	prefix := filepath.Join(dir, "cosign")
	_, stderr, code := Cosign(t, []string{"COSIGN_PASSWORD=" + password},
		"generate-key-pair", "--output-key-prefix", prefix)
	if code != 0 {
		t.Fatalf("cosign generate-key-pair: exit %d\n%s", code, stderr)
	}
	privPath, pubPath = prefix+".key", prefix+".pub"
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("cosign generate-key-pair wrote no %s: %v\nstderr:\n%s", filepath.Base(p), err, stderr)
		}
	}
	return privPath, pubPath
}

// CosignSign signs ref (a plain-HTTP registry on 127.0.0.1, by tag or
// digest) with the encrypted private key privPath, without uploading to
// the transparency log, and writes the signature as an OCI 1.1 referrer
// (--registry-referrers-mode=oci-1-1, which needs COSIGN_EXPERIMENTAL=1):
// an image manifest whose subject is ref's manifest, through the referrers
// API or the sha256-<hex> fallback tag. It stands in for the exporter when
// a test needs a signature cosign made; a failure fails the test.
func CosignSign(t testing.TB, ref, privPath, password string) {
	t.Helper()
	_, stderr, code := Cosign(t, []string{"COSIGN_PASSWORD=" + password, "COSIGN_EXPERIMENTAL=1"},
		"sign", "--key", privPath,
		"--allow-http-registry",
		"--tlog-upload=false",
		"--registry-referrers-mode=oci-1-1",
		"--yes",
		ref)
	if code != 0 {
		t.Fatalf("cosign sign %s: exit %d\n%s", ref, code, stderr)
	}
}

// CosignError is a `cosign verify` that ran and refused: a non-zero exit.
type CosignError struct {
	ExitCode int
	Stderr   string
}

func (e *CosignError) Error() string {
	return fmt.Sprintf("cosign verify: exit %d: %s", e.ExitCode, strings.TrimSpace(e.Stderr))
}

// CosignVerify runs `cosign verify` (CosignVerifyArgs) on ref, a
// plain-HTTP registry on 127.0.0.1, by tag or digest, with the public key
// pubKeyPath and an empty trusted root, fully offline (Cosign). It returns
// cosign's stdout (on success the JSON list of the verified simple-signing
// payloads) and, when cosign refused, a *CosignError with its exit code and
// stderr. A cosign that cannot run, times out or reaches beyond loopback
// fails the test instead.
//
// With --experimental-oci11 cosign v2.6.1 falls back to the legacy
// sha256-<hex>.sig tag when the OCI 1.1 lookup fails
// (pkg/cosign/verify.go VerifyImageSignatures), so a success would not
// prove the referrer was read if that tag existed: CosignVerify fails the
// test when ref's repository has it.
func CosignVerify(t testing.TB, ref, pubKeyPath string) (output string, err error) {
	t.Helper()
	requireNoLegacySignatureTag(t, ref)
	trustedRoot := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(trustedRoot, []byte(emptyTrustedRoot), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(slices.Clone(CosignVerifyArgs), "--key", pubKeyPath, "--trusted-root", trustedRoot, ref)
	stdout, stderr, code := Cosign(t, nil, args...)
	if code != 0 {
		return stdout, &CosignError{ExitCode: code, Stderr: stderr}
	}
	return stdout, nil
}

// requireNoLegacySignatureTag fails the test when ref's repository has
// cosign's legacy signature tag for ref's digest (sha256-<hex>.sig).
func requireNoLegacySignatureTag(t testing.TB, ref string) {
	t.Helper()
	r := parseRef(t, ref)
	desc, err := remote.Head(r)
	if err != nil {
		t.Fatalf("cosign verify: resolving %s: %v", ref, err)
	}
	tag := CosignLegacySignatureTag(r.Context(), desc.Digest.String())
	_, err = remote.Head(tag)
	var terr *transport.Error
	switch {
	case err == nil:
		t.Fatalf("cosign verify %s: %s exists (a legacy cosign signature); cosign would fall back to it, so a success would not prove the OCI 1.1 referrer", ref, tag)
	case errors.As(err, &terr) && terr.StatusCode == 404:
	default:
		t.Fatalf("cosign verify: HEAD %s: %v", tag, err)
	}
}

// CosignLegacySignatureTag returns the tag under which cosign's legacy
// (non-OCI 1.1) mode stores the signature of digest in repo.
func CosignLegacySignatureTag(repo name.Repository, digest string) name.Tag {
	return repo.Tag(strings.Replace(digest, ":", "-", 1) + ".sig")
}
