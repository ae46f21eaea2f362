package exporter_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
	"github.com/cnb-artifacts/lifecycle/signing"
)

// ecdsaSigner signs as cosign's ECDSA P-256 key does.
type ecdsaSigner struct{ k *ecdsa.PrivateKey }

func newSigner(t *testing.T) ecdsaSigner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ecdsaSigner{k}
}

func (s ecdsaSigner) Sign(_ context.Context, p []byte) ([]byte, error) {
	h := sha256.Sum256(p)
	return ecdsa.SignASN1(rand.Reader, s.k, h[:])
}

type failSigner struct{}

func (failSigner) Sign(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("key unavailable")
}

func commitSigned(t *testing.T, names []string, arts []*artifacts.Artifact, img v1.Image, opts ...exporter.Option) (*exporter.Result, error) {
	t.Helper()
	plan, err := exporter.NewPlan(names, arts, platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := exporter.New(plan, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tx.Commit(context.Background(), img)
}

// checkSignature reads the signature manifest sig in repo and checks that it
// signs subject with s's key, in cosign's OCI 1.1 form
// (harness.VerifySignature).
func checkSignature(t *testing.T, repo string, sig, subject v1.Hash, s ecdsaSigner) {
	t.Helper()
	ref, _ := name.NewDigest(repo + "@" + sig.String())
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatalf("signature %s: %v", sig, err)
	}
	blob := func(d v1.Hash) ([]byte, error) {
		l, err := remote.Layer(ref.Context().Digest(d.String()))
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if err := harness.VerifySignature(desc.Manifest, subject, &s.k.PublicKey, blob); err != nil {
		t.Fatalf("signature %s: %v", sig, err)
	}
}

// With a signer, the app image and every artifact are signed: each
// signature is a referrer of what it signs (through the API, or the
// fallback index of its subject), written after it, and every tag moves
// after the signatures of what it names are findable (docs/spec.md 17).
func TestCommitSigned(t *testing.T) {
	t.Parallel()
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			rec, host := newRegistry(t, referrers)
			img, _ := random.Image(256, 1)
			app := host + "/app"
			s := newSigner(t)
			arts := fixture(t)
			res, err := commitSigned(t, []string{app + ":latest"}, arts, img, exporter.WithSigner(s))
			if err != nil {
				t.Fatal(err)
			}
			appDigest, _ := img.Digest()
			if res.Signature.Digest == (v1.Hash{}) {
				t.Fatal("Result.Signature is empty")
			}
			signed := map[v1.Hash]v1.Hash{appDigest: res.Signature.Digest} // subject -> signature
			for _, p := range res.Artifacts {
				if p.Signature.Digest == (v1.Hash{}) {
					t.Fatalf("artifact %s has no signature", p.Artifact.Tag)
				}
				signed[p.Manifest.Descriptor.Digest] = p.Signature.Digest
			}
			repo, _ := name.NewRepository(app)
			for subject, sig := range signed {
				checkSignature(t, app, sig, subject, s)
				// Found as a referrer, as cosign looks it up.
				ri, err := remote.Referrers(repo.Digest(subject.String()))
				if err != nil {
					t.Fatal(err)
				}
				idx, err := ri.IndexManifest()
				if err != nil {
					t.Fatal(err)
				}
				// (The in-process registry's referrers API reports the
				// config's media type as artifactType; the manifest's own is
				// checked above.)
				found := false
				for _, d := range idx.Manifests {
					found = found || d.Digest == sig
				}
				if !found {
					t.Fatalf("signature %s is not a referrer of %s: %+v", sig, subject, idx.Manifests)
				}
			}

			// Order: a signature after what it signs; every tag after every
			// signature; in fallback mode, a subject's fallback index before
			// any tag naming it.
			written := map[string]int{}
			for i, r := range rec.requests() {
				if r.method == http.MethodPut && strings.Contains(r.path, "/manifests/") {
					written[r.path[strings.LastIndex(r.path, "/")+1:]] = i
				}
			}
			firstTag := len(rec.requests())
			for ref, i := range written {
				if !strings.HasPrefix(ref, "sha256:") && !strings.HasPrefix(ref, "sha256-") {
					firstTag = min(firstTag, i)
				}
			}
			for subject, sig := range signed {
				if written[sig.String()] <= written[subject.String()] {
					t.Errorf("signature %s was written before what it signs", sig)
				}
				if written[sig.String()] > firstTag {
					t.Errorf("signature %s was written after a tag moved", sig)
				}
				ft := registry.FallbackTag(subject)
				if _, ok := written[ft]; ok == referrers {
					t.Errorf("fallback index %s written: %v, want %v", ft, ok, !referrers)
				}
				if !referrers && written[ft] > firstTag && subject != appDigest {
					t.Errorf("the fallback index of artifact %s moved after an artifact tag", subject)
				}
			}
			if !referrers && written[registry.FallbackTag(appDigest)] > written["latest"] {
				t.Error("the app image's fallback index moved after its tag")
			}
		})
	}
}

// A signer that fails fails the commit before any manifest is written: no
// tag moves, nothing unsigned is published.
func TestCommitSignerFails(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, false)
	img, _ := random.Image(256, 1)
	_, err := commitSigned(t, []string{host + "/app:latest"}, fixture(t), img, exporter.WithSigner(failSigner{}))
	var ce *exporter.CommitError
	if !errors.As(err, &ce) || ce.Stage != exporter.StageSignatures || !strings.Contains(err.Error(), "key unavailable") {
		t.Fatalf("err = %v, want a CommitError of stage signatures", err)
	}
	for _, r := range rec.requests() {
		if r.method == http.MethodPut && strings.Contains(r.path, "/manifests/") {
			t.Fatalf("a manifest was written: %s", r.path)
		}
	}
}

// Without artifacts, a signer still signs the app image: the transaction
// runs (it is no longer the stock save) and the signature is a referrer.
// Where the registry has no referrers API, the signature is found through
// the app image's fallback index, which the export writes.
func TestRegistryTargetSignsWithoutArtifacts(t *testing.T) {
	t.Parallel()
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers=%v", api), func(t *testing.T) {
			t.Parallel()
			_, host := newRegistry(t, api)
			img, _ := random.Image(256, 1)
			s := newSigner(t)
			res, err := commitSigned(t, []string{host + "/app:latest"}, nil, img, exporter.WithSigner(s))
			if err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			checkSignature(t, host+"/app", res.Signature.Digest, d, s)
			if !referrersOf(t, host+"/app", d)[res.Signature.Digest] {
				t.Fatalf("the signature %s is not a referrer of the app image", res.Signature.Digest)
			}
		})
	}
}

// With best-effort, an artifact no repository took has no signature in the
// result (its signature was not written anywhere either).
func TestCommitSignedBestEffortRefusedEverywhere(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, false)
	app := host + "/app"
	rec.setFail(func(r *http.Request) int {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/app/manifests/sha256:") &&
			r.Header.Get("Content-Type") == string(types.OCIManifestSchema1) && !isSignature(r) {
			return http.StatusBadRequest
		}
		return 0
	})
	img, _ := random.Image(256, 1)
	res, err := commitSigned(t, []string{app + ":latest"}, fixture(t), img, exporter.WithSigner(newSigner(t)), exporter.WithBestEffort(true))
	if err != nil {
		t.Fatal(err)
	}
	if res.Signature.Digest == (v1.Hash{}) {
		t.Fatal("the app image is not signed")
	}
	for _, p := range res.Artifacts {
		if p.Skipped == "" || len(p.Refs) != 0 {
			t.Fatalf("artifact %s: refs %v, skipped %q; want it refused", p.Artifact.Tag, p.Refs, p.Skipped)
		}
		// One repository: the reason does not name it.
		if !strings.HasPrefix(p.Skipped, "registry "+host+" refused its manifest: ") {
			t.Errorf("artifact %s: skipped %q, want the registry's refusal alone", p.Artifact.Tag, p.Skipped)
		}
		if p.Signature.Digest != (v1.Hash{}) {
			t.Errorf("artifact %s, published nowhere, has signature %s", p.Artifact.Tag, p.Signature.Digest)
		}
	}
}

// isSignature reports whether a manifest PUT is a signature's (its body
// names cosign's artifact type).
func isSignature(r *http.Request) bool {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return bytes.Contains(b, []byte(artifacts.MediaTypeCosignSignature))
}

// A key whose password is wrong is found before the transaction's first
// request (the key is decrypted in the background, and waited for there):
// nothing is written, and the error is the key's.
func TestCommitWaitsForTheKey(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, false)
	dir := t.TempDir()
	priv, _, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), func(bool) ([]byte, error) { return []byte("right"), nil })
	if err != nil {
		t.Fatal(err)
	}
	key, pass := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "password")
	if err := os.WriteFile(key, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := signing.OpenKey(key, pass)
	if err != nil {
		t.Fatalf("OpenKey reads the files only: %v", err)
	}
	img, _ := random.Image(256, 1)
	before := len(rec.requests())
	_, err = commitSigned(t, []string{host + "/app:latest"}, fixture(t), img, exporter.WithSigner(k))
	if !errors.Is(err, signing.ErrKey) {
		t.Fatalf("err = %v, want signing.ErrKey", err)
	}
	if n := len(rec.requests()) - before; n != 0 {
		t.Fatalf("%d requests were made with a key that cannot sign", n)
	}
}

// Committing the same image and artifacts again with the same key writes
// the same signatures (cosign keys sign deterministically): no second
// signature referrer, as a second reattach changes nothing (R15.3).
func TestCommitSignedTwiceAddsNoReferrer(t *testing.T) {
	t.Parallel()
	_, host := newRegistry(t, false)
	dir := t.TempDir()
	priv, _, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), func(bool) ([]byte, error) { return []byte(""), nil })
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "cosign.key")
	if err := os.WriteFile(key, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := signing.LoadKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(256, 1)
	arts := fixture(t)
	app := host + "/app"
	var first *exporter.Result
	for range 2 {
		res, err := commitSigned(t, []string{app + ":latest"}, arts, img, exporter.WithSigner(k))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = res
			continue
		}
		if res.Signature.Digest != first.Signature.Digest {
			t.Errorf("the app image's signature changed: %s, then %s", first.Signature.Digest, res.Signature.Digest)
		}
		for i := range res.Artifacts {
			if res.Artifacts[i].Signature.Digest != first.Artifacts[i].Signature.Digest {
				t.Errorf("artifact %d's signature changed", i)
			}
		}
	}
	d, _ := img.Digest()
	repo, _ := name.NewRepository(app)
	ri, err := remote.Referrers(repo.Digest(d.String()))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := ri.IndexManifest()
	if n := len(idx.Manifests); n != len(arts)+1 {
		t.Fatalf("%d referrers of the app image after two commits, want %d (the artifacts and one signature)", n, len(arts)+1)
	}
}
