package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// ReusedLayer is a launch layer that this build keeps from the previous
// image without writing it: its <layer>.toml says launch = true and there is
// no layer directory, so lifecycle's exporter reuses the previous image's
// layer, and no artifacts.toml can declare its artifacts.
type ReusedLayer struct {
	Buildpack artifacts.Buildpack
	Layer     string
}

// maxLayerTOML bounds a <layer>.toml read to find reused layers.
const maxLayerTOML = 1 << 20

// maxLayerEntries bounds the entries of a buildpack's layers directory read
// to find reused layers; a directory with more is read that far.
const maxLayerEntries = 10000

// readDirBounded reads at most n entries of root's top directory, sorted by
// name.
func readDirBounded(root *os.Root, n int) ([]fs.DirEntry, error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// ReusedLayers lists the reused launch layers of the group's buildpacks, in
// group order and lexical layer order. Files that are not small regular
// files are passed over (the buildpack owns them).
func ReusedLayers(layersDir string, group []artifacts.Buildpack) ([]ReusedLayer, error) {
	var out []ReusedLayer
	for _, bp := range group {
		dir := filepath.Join(layersDir, artifacts.EscapeID(bp.ID))
		root, err := os.OpenRoot(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("buildpack %q: %w", bp.ID, err)
		}
		entries, err := readDirBounded(root, maxLayerEntries)
		if err != nil {
			root.Close()
			return nil, fmt.Errorf("buildpack %q: %w", bp.ID, err)
		}
		for _, e := range entries {
			layer, ok := strings.CutSuffix(e.Name(), ".toml")
			if !ok || layer == "" || layer == "launch" || layer == "build" || layer == "store" || !e.Type().IsRegular() {
				continue
			}
			if _, err := root.Lstat(layer); !errors.Is(err, fs.ErrNotExist) {
				continue // the buildpack wrote the layer: it declares its own artifacts
			}
			raw, err := artifacts.ReadFile(root, e.Name(), maxLayerTOML)
			if err != nil {
				continue
			}
			var md struct {
				Types struct{ Launch bool } `toml:"types"`
			}
			if _, err := toml.Decode(string(raw), &md); err == nil && md.Types.Launch {
				out = append(out, ReusedLayer{Buildpack: bp, Layer: layer})
			}
		}
		root.Close()
	}
	return out, nil
}

// CarryProblem is a reused layer whose previous artifacts could not be
// carried: the export goes on, and says so.
type CarryProblem struct {
	Layer ReusedLayer
	Err   error
}

func (p CarryProblem) Error() string {
	return fmt.Sprintf("buildpack %q, layer %q: the artifacts of the previous image could not be carried: %v", p.Layer.Buildpack.String(), p.Layer.Layer, p.Err)
}

// Carry returns the previous image's artifacts of the reused layers,
// rebuilt (artifacts.FromManifest) to be published again for the new image:
// same config and layer blobs, which the previous image's repository has
// (the upload mounts them from there), same tag, new subject. A declared
// artifact of the same buildpack and layer wins; a carried tag that
// another buildpack declares is a *CollisionError. Previous artifacts of
// other layers are left to Plan.Stale. Reused layers whose artifacts cannot
// be read (the previous image is gone, the registry cannot tell its
// referrers, a manifest cannot be read) are CarryProblems, each with the
// error: a failed read is never "no artifacts". c is the client of the
// previous image's registry. It writes nothing.
func Carry(ctx context.Context, c *registry.Client, previous name.Digest, reused []ReusedLayer, declared []*artifacts.Artifact) ([]*artifacts.Artifact, []CarryProblem, error) {
	if len(reused) == 0 {
		return nil, nil, nil
	}
	// A subject need not exist to have referrers: make sure the previous
	// image is there, or its artifacts cannot be trusted found.
	_, err := c.Head(ctx, previous.Context(), previous.DigestStr())
	var prev []PreviousArtifact
	if err == nil {
		prev, err = DiscoverArtifacts(ctx, c, previous)
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
		layer := ReusedLayer{Buildpack: artifacts.Buildpack{ID: pa.Buildpack, Version: pa.BuildpackVersion}, Layer: pa.Layer}
		a, err := rebuild(ctx, c, previous.Context(), pa)
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
// publish for a new subject, its blobs those of repo (mounted from there,
// read through c otherwise).
func rebuild(ctx context.Context, c *registry.Client, repo name.Repository, pa PreviousArtifact) (*artifacts.Artifact, error) {
	m, err := c.Get(ctx, repo, pa.Descriptor.Digest.String())
	if err != nil {
		return nil, err
	}
	a, err := artifacts.FromManifest(m.Raw, func(d v1.Descriptor) (artifacts.Blob, error) {
		return c.Blob(ctx, repo, d), nil
	})
	if err != nil {
		return nil, err
	}
	a.CarriedFrom = repo.Digest(pa.Descriptor.Digest.String()).Name()
	return a, nil
}

// ArtifactsOf returns every artifact the exporter published for the image
// from, rebuilt to be published again for another image (reattach, after a
// rebase): same blobs, tags and annotations, a new subject. c is the client
// of from's registry. An artifact that cannot be read, or a registry that
// cannot tell the referrers (registry.ErrReferrersUnknown), fails it: a
// re-attachment drops nothing silently.
func ArtifactsOf(ctx context.Context, c *registry.Client, from name.Digest) ([]*artifacts.Artifact, error) {
	if _, err := c.Head(ctx, from.Context(), from.DigestStr()); err != nil {
		return nil, fmt.Errorf("reading %s: %w", from.Name(), err)
	}
	prev, err := DiscoverArtifacts(ctx, c, from)
	if err != nil {
		return nil, err
	}
	var out []*artifacts.Artifact
	for _, pa := range prev {
		a, err := rebuild(ctx, c, from.Context(), pa)
		if err != nil {
			return nil, fmt.Errorf("artifact %s of buildpack %q, layer %q: %w", pa.Descriptor.Digest, pa.Buildpack, pa.Layer, err)
		}
		out = append(out, a)
	}
	return out, nil
}
