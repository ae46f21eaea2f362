package exporter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/buildpacks/imgutil"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// refNameAnnotation names an OCI layout index entry, as a tag names a manifest.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// LayoutImage decorates the working image of an OCI layout export (-layout):
// the artifacts go into the app image's layout, their blobs under blobs/ and
// their manifests in index.json, named by their tag, with the app image as
// subject. The order follows the registry transaction's: first the blobs
// (the artifacts' blobs and manifests), then the app image (imgutil writes
// it and its index entry), then the artifacts' index entries in one write.
type LayoutImage struct {
	imgutil.Image
	plan *Plan

	result *Result
	err    error
}

// WrapLayout decorates img, which must be imgutil's layout kind. The plan is
// made from the output image name alone: the layout holds that one image.
func WrapLayout(img imgutil.Image, plan *Plan) (*LayoutImage, error) {
	if img.Kind() != "layout" {
		return nil, fmt.Errorf("not a layout image: %q", img.Kind())
	}
	if _, ok := img.(finisher); !ok {
		return nil, fmt.Errorf("image %T cannot be finished before saving", img)
	}
	return &LayoutImage{Image: img, plan: plan}, nil
}

// SaveAs writes the app image with imgutil, and the artifacts around it.
func (i *LayoutImage) SaveAs(name string, additionalNames ...string) error {
	i.result, i.err = i.save(name, additionalNames)
	return i.err
}

// Result is the outcome of SaveAs, as Image.Result.
func (i *LayoutImage) Result() (*Result, error) { return i.result, i.err }

func (i *LayoutImage) save(name string, additionalNames []string) (*Result, error) {
	if err := i.Image.(finisher).SetCreatedAtAndHistory(); err != nil {
		return nil, err
	}
	img := i.Image.UnderlyingImage()
	subject, err := partial.Descriptor(img)
	if err != nil {
		return nil, fmt.Errorf("describe app image: %w", err)
	}
	subject = &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read app image config: %w", err)
	}
	path, err := layout.FromPath(name)
	if err != nil {
		// imgutil creates the layout when it saves; the blobs come first.
		if path, err = layout.Write(name, empty.Index); err != nil {
			return nil, &CommitError{Stage: StageBlobs, Err: fmt.Errorf("create layout %s: %w", name, err)}
		}
	}

	res := &Result{Subject: *subject}
	tags := i.plan.targets[0].artifactTags
	for k, a := range i.plan.artifacts {
		m, err := a.Manifest(subject, cf.Created.Time)
		if err != nil {
			return nil, fmt.Errorf("build manifest of artifact %q: %w", a.Tag, err)
		}
		if err := writeBlobs(path, a, m); err != nil {
			return nil, &CommitError{Stage: StageBlobs, Err: fmt.Errorf("layout %s: artifact %q: %w", name, a.Tag, err)}
		}
		res.Artifacts = append(res.Artifacts, Published{Artifact: a, Manifest: m,
			Refs: []string{name + ":" + tags[k].TagStr() + "@" + m.Descriptor.Digest.String()}})
	}

	if err := i.Image.SaveAs(name, additionalNames...); err != nil {
		return nil, err
	}
	var names []string
	for _, t := range tags {
		names = append(names, t.TagStr())
	}
	if err := nameArtifacts(path, res.Artifacts, names); err != nil {
		return nil, &CommitError{Stage: StageTags, Moved: []string{name}, Err: fmt.Errorf("layout %s: %w", name, err)}
	}
	res.Moved = []string{name}
	for _, n := range names {
		res.Moved = append(res.Moved, name+":"+n)
	}
	return res, nil
}

// writeBlobs writes an artifact's config, layers and manifest into the
// layout's blobs; ones already there are kept.
func writeBlobs(path layout.Path, a *artifacts.Artifact, m artifacts.Manifest) error {
	cfg, err := a.Config()
	if err != nil {
		return err
	}
	ls, err := a.Layers()
	if err != nil {
		return err
	}
	for _, b := range append([]artifacts.Blob{cfg}, ls...) {
		d, err := b.Digest()
		if err != nil {
			return err
		}
		rc, err := b.Compressed()
		if err != nil {
			return err
		}
		if err := path.WriteBlob(d, rc); err != nil {
			return fmt.Errorf("write blob %s: %w", d, err)
		}
	}
	return path.WriteBlob(m.Descriptor.Digest, io.NopCloser(bytes.NewReader(m.Raw)))
}

// nameArtifacts lists the artifacts' manifests in index.json under their
// tags, replacing entries of the same name, in one write.
func nameArtifacts(path layout.Path, published []Published, names []string) error {
	idx, err := path.ImageIndex()
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	out := *im
	out.Manifests = nil
	for _, d := range im.Manifests {
		if !slices.Contains(names, d.Annotations[refNameAnnotation]) {
			out.Manifests = append(out.Manifests, d)
		}
	}
	for k, p := range published {
		d := p.Manifest.Descriptor
		d.Annotations = map[string]string{refNameAnnotation: names[k]}
		out.Manifests = append(out.Manifests, d)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return path.WriteFile("index.json", b, 0o644)
}
