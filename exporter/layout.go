package exporter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/buildpacks/imgutil"
	"github.com/buildpacks/lifecycle/platform/files"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// refNameAnnotation names an OCI layout index entry, as a tag names a manifest.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// layoutTarget puts the artifacts into the app image's OCI layout (-layout).
type layoutTarget struct {
	outputRef string
	tmpl      platform.TagTemplate
	opts      options
	err       error // the options' error, returned by Plan

	arts  []*artifacts.Artifact
	plan  *Plan
	saved *LayoutImage
}

// NewLayoutTarget is the target of a layout export of outputRef; the layout
// holds that one image, so the plan is made from it alone.
func NewLayoutTarget(outputRef string, tmpl platform.TagTemplate, opts ...Option) Target {
	o, err := makeOptions(opts)
	return &layoutTarget{outputRef: outputRef, tmpl: tmpl, opts: o, err: err}
}

func (l *layoutTarget) Plan(arts []*artifacts.Artifact) error {
	l.arts = arts
	if l.err != nil || (len(arts) == 0 && l.opts.signer == nil) {
		return l.err
	}
	var err error
	l.plan, err = NewPlan([]string{l.outputRef}, arts, l.tmpl, l.opts.insecure)
	return err
}

func (l *layoutTarget) Wrap(_ context.Context, img imgutil.Image) (imgutil.Image, error) {
	if l.plan == nil {
		return img, nil
	}
	tx, err := newTransaction(l.plan, l.opts)
	if err != nil {
		return nil, err
	}
	if l.saved, err = wrapLayout(img, tx); err != nil {
		return nil, err
	}
	l.saved.tx.logAdding(l.arts)
	return l.saved, nil
}

func (l *layoutTarget) Finish(_ context.Context, _ files.ImageReport, saveErr error) (*Result, error) {
	if l.saved == nil {
		return &Result{}, saveErr
	}
	return committed(l.saved.Result, saveErr)
}

// LayoutImage decorates the working image of an OCI layout export: the
// artifacts go into the app image's layout, their blobs under blobs/ and
// their manifests in index.json, named by their tag, with the app image as
// subject, in the transaction's order (docs/spec.md section 12).
type LayoutImage struct {
	imgutil.Image
	plan *Plan
	tx   *Transaction

	result *Result
	err    error
}

// WrapLayout decorates img, which must be imgutil's layout kind; opts give
// the logger and the digest cache.
func WrapLayout(img imgutil.Image, plan *Plan, opts ...Option) (*LayoutImage, error) {
	tx, err := New(plan, opts...)
	if err != nil {
		return nil, err
	}
	return wrapLayout(img, tx)
}

// wrapLayout decorates img with tx, whose plan it publishes.
func wrapLayout(img imgutil.Image, tx *Transaction) (*LayoutImage, error) {
	if img.Kind() != "layout" {
		return nil, fmt.Errorf("not a layout image: %q", img.Kind())
	}
	if _, ok := img.(finisher); !ok {
		return nil, fmt.Errorf("image %T cannot be finished before saving", img)
	}
	return &LayoutImage{Image: img, plan: tx.plan, tx: tx}, nil
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
	if err := i.tx.signerReady(i.Image.UnderlyingImage()); err != nil {
		return nil, err
	}
	s, err := newSubject(i.Image.UnderlyingImage())
	if err != nil {
		return nil, err
	}
	path, err := layout.FromPath(name)
	if err != nil {
		// imgutil creates the layout when it saves; the blobs come first.
		if path, err = layout.Write(name, empty.Index); err != nil {
			return nil, &CommitError{Stage: StageBlobs, Err: fmt.Errorf("create layout %s: %w", name, err)}
		}
	}

	// Blobs: each file is read once, hashed as it is written; then the
	// manifest, whose digests are known by then.
	res := &Result{Subject: s.descriptor()}
	var cores []artifactCore
	tags := i.plan.repos[0].artifactTags
	for k, a := range i.plan.artifacts {
		c, err := writeArtifact(path, a, s)
		warnDigestCache(i.tx.logger, i.tx.cache)
		if err != nil {
			return nil, &CommitError{Stage: StageBlobs, Err: fmt.Errorf("layout %s: artifact %q: %w", name, a.Tag, err)}
		}
		cores = append(cores, c)
		r := name + "@" + c.m.Descriptor.Digest.String()
		if tagged(tags[k]) {
			r = name + ":" + tags[k].TagStr() + "@" + c.m.Descriptor.Digest.String()
		}
		res.Artifacts = append(res.Artifacts, Published{Artifact: a, Manifest: c.m, Refs: []string{r}})
	}

	sigs, err := i.tx.sign(context.Background(), s, res.Artifacts)
	if err != nil {
		return nil, &CommitError{Stage: StageSignatures, Err: err}
	}
	if err := writeSignatures(path, sigs); err != nil {
		return nil, &CommitError{Stage: StageManifests, Err: fmt.Errorf("layout %s: %w", name, err)}
	}
	if err := i.Image.SaveAs(name, additionalNames...); err != nil {
		return nil, err
	}
	res.Moved = []string{name}
	// The signatures' index entries, unnamed, before the artifacts' names.
	for _, sig := range sigs.all() {
		d := sig.Manifest.Descriptor
		err := path.RemoveDescriptors(match.Digests(d.Digest)) // once per digest
		if err == nil {
			err = path.AppendDescriptor(d)
		}
		if err != nil {
			return nil, &CommitError{Stage: StageTags, Moved: res.Moved, Err: fmt.Errorf("layout %s: %w", name, err)}
		}
	}
	sigs.record(res)
	for k, c := range cores {
		img, err := partial.CompressedToImage(c)
		if err == nil && !tagged(tags[k]) {
			// Untagged: an index entry without a name, once per digest.
			err = path.ReplaceImage(img, match.Digests(c.m.Descriptor.Digest))
		} else if err == nil {
			tag := tags[k].TagStr()
			err = path.ReplaceImage(img, match.Annotation(refNameAnnotation, tag),
				layout.WithAnnotations(map[string]string{refNameAnnotation: tag}))
		}
		if err != nil {
			return nil, &CommitError{Stage: StageTags, Moved: res.Moved, Err: fmt.Errorf("layout %s: %w", name, err)}
		}
		if tagged(tags[k]) {
			res.Moved = append(res.Moved, name+":"+tags[k].TagStr())
		}
	}
	return res, nil
}

// writeArtifact writes an artifact's config and layers into the layout,
// each file read once (hashed while it is written), then its manifest.
func writeArtifact(path layout.Path, a *artifacts.Artifact, s subject) (artifactCore, error) {
	cfg, err := a.Config()
	if err != nil {
		return artifactCore{}, err
	}
	ls, err := a.Layers()
	if err != nil {
		return artifactCore{}, err
	}
	c := artifactCore{path: path, blobs: map[v1.Hash]artifacts.Blob{}}
	for _, b := range append([]artifacts.Blob{cfg}, ls...) {
		d, err := writeBlob(path, b)
		if err != nil {
			return artifactCore{}, fmt.Errorf("write blob: %w", err)
		}
		c.blobs[d] = b
	}
	if c.config, err = cfg.Digest(); err != nil {
		return artifactCore{}, err
	}
	if c.m, err = s.manifest(a); err != nil {
		return artifactCore{}, err
	}
	if err := path.WriteBlob(c.m.Descriptor.Digest, io.NopCloser(bytes.NewReader(c.m.Raw))); err != nil {
		return artifactCore{}, fmt.Errorf("write manifest: %w", err)
	}
	return c, nil
}

// writeBlob writes b into the layout's blobs and returns its digest. A file
// whose digest is not known yet is hashed while it is copied, into a
// temporary file renamed to its digest, as go-containerregistry writes a
// streamed layer; a blob of known digest that the layout has is not read.
func writeBlob(path layout.Path, b artifacts.Blob) (v1.Hash, error) {
	f, ok := b.(artifacts.FileBlob)
	if !ok {
		d, err := b.Digest()
		if err != nil {
			return v1.Hash{}, err
		}
		rc, err := b.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		return d, path.WriteBlob(d, rc)
	}
	if d, _, known := f.Known(); known {
		rc, err := f.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		return d, path.WriteBlob(d, rc)
	}
	dir := filepath.Join(string(path), "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return v1.Hash{}, err
	}
	tmp, err := os.CreateTemp(dir, "artifact-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	rc, err := f.HashingReader()
	if err != nil {
		tmp.Close()
		return v1.Hash{}, err
	}
	_, err = io.Copy(tmp, rc)
	rc.Close()
	if err == nil {
		err = tmp.Chmod(0o644) // as layout.Path.WriteBlob's files
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return v1.Hash{}, err
	}
	d, _, known := f.Known()
	if !known {
		return v1.Hash{}, fmt.Errorf("%w: the file was not read through", artifacts.ErrFile)
	}
	return d, os.Rename(tmp.Name(), filepath.Join(dir, d.Hex))
}

// artifactCore is an artifact as a go-containerregistry partial image core
// whose manifest is the exact bytes built, its blobs already in the layout:
// layout.ReplaceImage finds them there and only names the manifest.
type artifactCore struct {
	path   layout.Path
	m      artifacts.Manifest
	config v1.Hash
	blobs  map[v1.Hash]artifacts.Blob
}

var _ partial.CompressedImageCore = artifactCore{}

func (c artifactCore) RawManifest() ([]byte, error) { return c.m.Raw, nil }

func (c artifactCore) MediaType() (types.MediaType, error) { return c.m.Descriptor.MediaType, nil }

// RawConfigFile reads the config from the layout, not from the layer
// directory again.
func (c artifactCore) RawConfigFile() ([]byte, error) { return c.path.Bytes(c.config) }

func (c artifactCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	b, ok := c.blobs[h]
	if !ok {
		return nil, fmt.Errorf("artifact has no blob %s", h)
	}
	return b, nil
}

// Descriptor is the manifest's descriptor, artifactType included, without
// annotations: the index entry gets its name alone.
func (c artifactCore) Descriptor() (*v1.Descriptor, error) {
	d := c.m.Descriptor
	d.Annotations = nil
	return &d, nil
}

// writeSignatures writes each signature's blobs and manifest into the
// layout's blobs.
func writeSignatures(path layout.Path, sigs signatures) error {
	for _, sig := range sigs.all() {
		for _, b := range sig.Blobs {
			d, err := b.Digest()
			if err != nil {
				return err
			}
			rc, err := b.Compressed()
			if err != nil {
				return err
			}
			if err := path.WriteBlob(d, rc); err != nil {
				return fmt.Errorf("write signature blob: %w", err)
			}
		}
		m := sig.Manifest
		if err := path.WriteBlob(m.Descriptor.Digest, io.NopCloser(bytes.NewReader(m.Raw))); err != nil {
			return fmt.Errorf("write signature manifest: %w", err)
		}
	}
	return nil
}
