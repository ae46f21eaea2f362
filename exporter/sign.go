package exporter

import (
	"context"
	"fmt"

	"github.com/buildpacks/lifecycle/log"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/signing"
)

// Signatures of the transaction (docs/spec.md section 17): with WithSigner,
// the app image and every artifact manifest are signed once their digests
// are known, each signature written after what it signs (stage 2) and
// indexed before any tag that names what it signs moves (stage 3).

// signatures are an export's: the app image's, and one per artifact, by
// the index of the artifact in the plan (nil where nothing is signed).
type signatures struct {
	app  *signing.Signature
	arts []*signing.Signature
}

// sign signs the app image and every artifact manifest. Nothing is signed
// without a signer or without an app image (a daemon export).
func (t *Transaction) sign(ctx context.Context, s subject, ps []Published) (signatures, error) {
	var out signatures
	if t.signer == nil || s.desc == nil {
		return out, nil
	}
	repo := t.signedRepository()
	app, err := signing.Sign(ctx, t.signer, repo, *s.desc, s.created)
	if err != nil {
		return out, fmt.Errorf("app image %s: %w", s.desc.Digest, err)
	}
	out.app = &app
	for _, p := range ps {
		sig, err := signing.Sign(ctx, t.signer, repo, p.Manifest.Descriptor, s.created)
		if err != nil {
			a := p.Artifact
			return out, fmt.Errorf("artifact '%s:%s' (%s): %w", a.Buildpack.ID, a.Layer, tagLabel(a), err)
		}
		out.arts = append(out.arts, &sig)
	}
	return out, nil
}

// signerReady waits for the signer, if the transaction signs (it has one
// and an app image): a key still being decrypted, or one that cannot be
// used, is known before the first write.
func (t *Transaction) signerReady(img v1.Image) error {
	if t.signer == nil || img == nil {
		return nil
	}
	return signing.Ready(t.signer)
}

// signedRepository is the repository a signature's payload names (cosign's
// docker-reference): the primary image name's. One payload serves every
// repository, as the signed digests are the same there.
func (t *Transaction) signedRepository() name.Repository {
	if len(t.plan.names) > 0 {
		return t.plan.names[0].Context()
	}
	return t.plan.repos[0].repo
}

// forRepo lists the signatures repository w writes: the app image's, and
// those of the artifacts it took (best-effort may refuse some).
func (sg signatures) forRepo(w *repoWriter, ps []Published, refused *refusals) []*signing.Signature {
	if sg.app == nil {
		return nil
	}
	out := []*signing.Signature{sg.app}
	for i, p := range ps {
		if _, ok := refused.get(w.repo.Name(), p.Manifest.Descriptor.Digest); ok {
			continue
		}
		out = append(out, sg.arts[i])
	}
	return out
}

// pushSignatures writes, in repository w, each signature's blobs and then
// its manifest by digest, after the manifests they sign. Where the
// registry's referrers capability is not known yet (no artifact), the first
// signature manifest teaches it. A registry that refuses a signature fails
// the export whatever the policy: an unsigned image is not published.
func (t *Transaction) pushSignatures(ctx context.Context, w *repoWriter, sigs []*signing.Signature) error {
	put := func(ctx context.Context, sig *signing.Signature) error {
		for _, b := range sig.Blobs {
			if err := w.uploadBlob(ctx, b); err != nil {
				return fmt.Errorf("registry %s: upload signature blob %s to %s: %w", w.repo.RegistryStr(), blobName(b), w.repo.RepositoryStr(), err)
			}
		}
		d := sig.Manifest.Descriptor
		if _, err := w.putManifest(ctx, d.Digest.String(), d.MediaType, sig.Manifest.Raw); err != nil {
			return fmt.Errorf("signature %s of %s: %w", d.Digest, sig.Subject.Digest, err)
		}
		return nil
	}
	if len(sigs) == 0 {
		return nil
	}
	if w.referrers == referrersUnknown {
		if err := put(ctx, sigs[0]); err != nil {
			return err
		}
		w.learnReferrers(ctx, sigs[0].Subject.Digest, t.logger)
		sigs = sigs[1:]
	}
	if w.serial {
		for _, sig := range sigs {
			if err := put(ctx, sig); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.jobs)
	for _, sig := range sigs {
		g.Go(func() error { return put(gctx, sig) })
	}
	return g.Wait()
}

// record puts each signature's descriptor next to what it signs in res:
// the app image's, and each artifact's where a repository took it.
func (sg signatures) record(res *Result) {
	if sg.app == nil {
		return
	}
	res.Signature = sg.app.Manifest.Descriptor
	for i := range res.Artifacts {
		if len(res.Artifacts[i].Refs) > 0 {
			res.Artifacts[i].Signature = sg.arts[i].Manifest.Descriptor
		}
	}
}

// all lists every signature: the app image's first.
func (sg signatures) all() []*signing.Signature {
	if sg.app == nil {
		return nil
	}
	return append([]*signing.Signature{sg.app}, sg.arts...)
}

// WarnUnsigned says, once per command, that what it publishes for an image
// this lifecycle signed (was) will not be signed: no key was given.
func WarnUnsigned(logger log.Logger, was string) {
	logger.Warnf("Not signing: %s was signed by this lifecycle, but no %s is given, so the new image digest and its artifacts are unsigned", was, platform.EnvSigningKey)
}
