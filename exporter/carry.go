package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// ReadOptions are the options to read the previous image's repository: the
// keychain's credentials, the transaction's transport (TLS verification off
// for an insecure registry, the stall deadline) and its idea of a transient
// failure (resets, timeouts, 408, 429, 5xx are retried).
func ReadOptions(kc authn.Keychain, insecure bool, timeout time.Duration) []remote.Option {
	return []remote.Option{
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(baseTransport(insecure, timeout)),
		remote.WithRetryPredicate(uploadRetryable),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
	}
}

// CarryProblem is a reused layer whose previous artifacts could not be
// carried: the export goes on, and says so.
type CarryProblem struct {
	Layer artifacts.ReusedLayer
	Err   error
}

func (p CarryProblem) Error() string {
	return fmt.Sprintf("buildpack %q, layer %q: the artifacts of the previous image could not be carried: %v", p.Layer.Buildpack.String(), p.Layer.Layer, p.Err)
}

// Carry returns the previous image's artifacts of the reused layers,
// rebuilt (artifacts.FromManifest) to be published again for the new image:
// same config and layer blobs, which the previous image's repository has
// (the pusher finds them there, or mounts them), same tag, new subject. A
// declared artifact of the same buildpack and layer wins; a carried tag that
// another buildpack declares is a *CollisionError. Previous artifacts of
// other layers are left to Plan.Stale. Reused layers whose artifacts cannot
// be found are CarryProblems. It writes nothing.
func Carry(ctx context.Context, previous name.Digest, reused []artifacts.ReusedLayer, declared []*artifacts.Artifact, opts ...remote.Option) ([]*artifacts.Artifact, []CarryProblem, error) {
	if len(reused) == 0 {
		return nil, nil, nil
	}
	opts = append(opts, remote.WithContext(ctx))
	prev, err := DiscoverArtifacts(ctx, previous, opts...)
	if err == nil {
		// A subject need not exist to have referrers: make sure the
		// previous image is there, or its artifacts cannot be trusted found.
		_, err = remote.Head(previous, opts...)
	}
	if err != nil {
		var probs []CarryProblem
		for _, l := range reused {
			probs = append(probs, CarryProblem{Layer: l, Err: err})
		}
		return nil, probs, nil
	}
	type key struct{ bp, layer string }
	isReused := map[key]bool{}
	for _, l := range reused {
		isReused[key{l.Buildpack.ID, l.Layer}] = true
	}
	declaredLayer := map[key]bool{}
	declaredTag := map[string]*artifacts.Artifact{}
	for _, a := range declared {
		declaredLayer[key{a.Buildpack.ID, a.Layer}] = true
		declaredTag[a.Tag] = a
	}
	var (
		out   []*artifacts.Artifact
		probs []CarryProblem
		errs  []error
	)
	for _, pa := range prev {
		k := key{pa.Buildpack, pa.Layer}
		if !isReused[k] || declaredLayer[k] {
			continue
		}
		layer := artifacts.ReusedLayer{Buildpack: artifacts.Buildpack{ID: pa.Buildpack, Version: pa.BuildpackVersion}, Layer: pa.Layer}
		a, err := rebuild(previous.Context(), pa, opts...)
		if err != nil {
			probs = append(probs, CarryProblem{Layer: layer, Err: err})
			continue
		}
		if other, ok := declaredTag[a.Tag]; ok {
			errs = append(errs, &CollisionError{Tag: a.Tag, Artifact: other.Declaration,
				With: fmt.Sprintf("the artifact of buildpack %q, layer %q, carried from the previous image (the layer is reused)", pa.Buildpack, pa.Layer),
				Fix:  "change one of the tags"})
			continue
		}
		out = append(out, a)
	}
	return out, probs, errors.Join(errs...)
}

// rebuild reads a previous artifact's manifest from repo and rebuilds it to
// publish for a new subject, its blobs those of repo.
func rebuild(repo name.Repository, pa PreviousArtifact, opts ...remote.Option) (*artifacts.Artifact, error) {
	desc, err := remote.Get(repo.Digest(pa.Descriptor.Digest.String()), opts...)
	if err != nil {
		return nil, err
	}
	a, err := artifacts.FromManifest(desc.Manifest, func(d v1.Descriptor) (artifacts.Blob, error) {
		ref := repo.Digest(d.Digest.String())
		return &remote.MountableLayer{Layer: remoteBlob{desc: d, ref: ref, opts: opts}, Reference: ref}, nil
	})
	if err != nil {
		return nil, err
	}
	a.CarriedFrom = repo.Digest(pa.Descriptor.Digest.String()).Name()
	return a, nil
}

// ArtifactsOf returns every artifact the exporter published for the image
// from, rebuilt to be published again for another image (reattach, after a
// rebase): same blobs, tags and annotations, a new subject. An artifact
// that cannot be read fails it: a re-attachment drops nothing silently.
func ArtifactsOf(ctx context.Context, from name.Digest, opts ...remote.Option) ([]*artifacts.Artifact, error) {
	opts = append(opts, remote.WithContext(ctx))
	if _, err := remote.Head(from, opts...); err != nil {
		return nil, fmt.Errorf("reading %s: %w", from.Name(), err)
	}
	prev, err := DiscoverArtifacts(ctx, from, opts...)
	if err != nil {
		return nil, err
	}
	var out []*artifacts.Artifact
	for _, pa := range prev {
		a, err := rebuild(from.Context(), pa, opts...)
		if err != nil {
			return nil, fmt.Errorf("artifact %s of buildpack %q, layer %q: %w", pa.Descriptor.Digest, pa.Buildpack, pa.Layer, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// remoteBlob is a blob of the previous image's repository known by its
// descriptor. The pusher finds it in the target repository, or mounts it
// (remote.MountableLayer); it is read only to copy it to another registry.
type remoteBlob struct {
	desc v1.Descriptor
	ref  name.Digest
	opts []remote.Option
}

func (b remoteBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b remoteBlob) DiffID() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b remoteBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b remoteBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b remoteBlob) Compressed() (io.ReadCloser, error) {
	l, err := remote.Layer(b.ref, b.opts...)
	if err != nil {
		return nil, err
	}
	return l.Compressed()
}
func (b remoteBlob) Uncompressed() (io.ReadCloser, error) { return b.Compressed() }
