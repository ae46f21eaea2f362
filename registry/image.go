package registry

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image reads the image manifest ref (a tag or a digest) of repo, as a
// v1.Image whose config and layers are read through c when asked for; its
// layers mount from repo (Mountable). An index is refused: the exporter
// publishes referrers of one image manifest.
func (c *Client) Image(ctx context.Context, repo name.Repository, ref string) (v1.Image, error) {
	m, err := c.Get(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	switch m.Descriptor.MediaType {
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
	default:
		return nil, fmt.Errorf("%s:%s is %s, not an image manifest", repo.Name(), ref, m.Descriptor.MediaType)
	}
	mf, err := v1.ParseManifest(bytesReader(m.Raw))
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", repo.Name(), ref, err)
	}
	img, err := partial.CompressedToImage(&image{ctx: ctx, c: c, repo: repo, m: m, mf: mf})
	if err != nil {
		return nil, err
	}
	var layers []v1.Layer
	for _, d := range mf.Layers {
		layers = append(layers, c.Blob(ctx, repo, d))
	}
	return mountableImage{Image: img, layers: layers}, nil
}

// mountableImage lists its layers as Mountable, so that an upload to
// another repository of the registry mounts them.
type mountableImage struct {
	v1.Image
	layers []v1.Layer
}

func (i mountableImage) Layers() ([]v1.Layer, error) { return i.layers, nil }

type image struct {
	ctx  context.Context
	c    *Client
	repo name.Repository
	m    Manifest
	mf   *v1.Manifest
}

func (i *image) RawManifest() ([]byte, error)        { return i.m.Raw, nil }
func (i *image) MediaType() (types.MediaType, error) { return i.m.Descriptor.MediaType, nil }

func (i *image) RawConfigFile() ([]byte, error) {
	rc, err := i.c.ReadBlob(i.ctx, i.repo, i.mf.Config.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := readBounded(rc, maxManifest)
	if err != nil {
		return nil, err
	}
	if h, _, _ := v1.SHA256(bytesReader(b)); h != i.mf.Config.Digest {
		return nil, fmt.Errorf("config %s has digest %s", i.mf.Config.Digest, h)
	}
	return b, nil
}

func (i *image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range append([]v1.Descriptor{i.mf.Config}, i.mf.Layers...) {
		if d.Digest == h {
			return compressed{i.c.Blob(i.ctx, i.repo, d)}, nil
		}
	}
	return nil, fmt.Errorf("blob %s is not in %s", h, i.repo.Name())
}

// compressed is a Mountable as partial.CompressedLayer.
type compressed struct{ *Mountable }

func (c compressed) Compressed() (io.ReadCloser, error) { return c.Layer.Compressed() }
