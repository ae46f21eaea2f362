package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"

	"github.com/buildpacks/lifecycle/log"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
)

// validateResult is what validate prints, as text or JSON.
type validateResult struct {
	LayersDir   string            `json:"layers"`
	Group       string            `json:"group,omitempty"`
	Buildpack   string            `json:"buildpack,omitempty"` // -buildpack mode
	TagTemplate string            `json:"tag-template"`
	Images      []string          `json:"images,omitempty"`
	ImageTag    string            `json:"image-tag,omitempty"`
	Artifacts   []artifactSummary `json:"artifacts"`
	Warnings    []string          `json:"warnings"`
	Errors      []errorSummary    `json:"errors"`
}

// artifactSummary is one artifact an export would publish.
type artifactSummary struct {
	Buildpack    string            `json:"buildpack"`
	Layer        string            `json:"layer"`
	LayerDir     string            `json:"layer-dir"` // <layer> or <layer>.ignore
	File         string            `json:"file"`
	Number       int               `json:"artifact"` // 1-based, in File
	Tag          string            `json:"tag"`
	PublishedTag string            `json:"published-tag"`
	ArtifactType string            `json:"artifact-type"`
	SBOM         string            `json:"sbom,omitempty"` // the format of an SBOM artifact
	Config       blobSummary       `json:"config"`
	Files        []blobSummary     `json:"files"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// blobSummary is a file (or the config) of an artifact.
type blobSummary struct {
	Path      string `json:"path,omitempty"` // empty: the config is {} in memory
	Title     string `json:"title,omitempty"`
	MediaType string `json:"media-type"`
	Size      int64  `json:"size"`
	Digest    string `json:"digest"`
}

// errorSummary is one error, with the fields of artifacts.DeclarationError.
type errorSummary struct {
	Buildpack string `json:"buildpack,omitempty"`
	Layer     string `json:"layer,omitempty"`
	File      string `json:"file,omitempty"`
	Number    int    `json:"artifact,omitempty"`
	Tag       string `json:"tag,omitempty"`
	Message   string `json:"message"`
	Fix       string `json:"fix,omitempty"`
}

// summarize describes an artifact; it hashes its files as the exporter does.
func summarize(a *artifacts.Artifact, published string) (artifactSummary, error) {
	s := artifactSummary{
		Buildpack: a.Buildpack.String(), Layer: a.Layer, LayerDir: path.Base(path.Dir(a.Source)), File: a.Source,
		Number: a.Index + 1, Tag: a.Tag, PublishedTag: published, ArtifactType: a.ArtifactType, SBOM: a.SBOM, Annotations: a.Annotations,
		Files: []blobSummary{},
	}
	cfg, err := a.Config()
	if err != nil {
		return s, err
	}
	if s.Config, err = describeBlob(cfg); err != nil {
		return s, err
	}
	if a.Declaration.Config != nil {
		s.Config.Path = a.Declaration.Config.Path
	}
	layers, err := a.Layers()
	if err != nil {
		return s, err
	}
	for i, l := range layers {
		b, err := describeBlob(l)
		if err != nil {
			return s, err
		}
		b.Path, b.Title = a.Files[i].Path, a.Files[i].Title
		s.Files = append(s.Files, b)
	}
	return s, nil
}

func describeBlob(b artifacts.Blob) (blobSummary, error) {
	mt, err := b.MediaType()
	if err != nil {
		return blobSummary{}, err
	}
	d, err := b.Digest()
	if err != nil {
		return blobSummary{}, err
	}
	size, err := b.Size()
	if err != nil {
		return blobSummary{}, err
	}
	return blobSummary{MediaType: string(mt), Size: size, Digest: d.String()}, nil
}

// addErrors records every error joined in err.
func (r *validateResult) addErrors(err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			r.addErrors(e)
		}
		return
	}
	s := errorSummary{Message: err.Error()}
	var de *artifacts.DeclarationError
	var ce *exporter.CollisionError
	switch {
	case errors.As(err, &ce):
		d := ce.Artifact
		s.Buildpack, s.Layer, s.File, s.Number, s.Tag, s.Fix = d.Buildpack.String(), d.Layer, d.Source, d.Index+1, d.Tag, ce.Fix
	case errors.As(err, &de):
		s.Buildpack, s.Layer, s.File, s.Tag, s.Fix = de.Buildpack.String(), de.Layer, de.File, de.Tag, de.Fix
		if de.Index >= 0 {
			s.Number = de.Index + 1
		}
	}
	r.Errors = append(r.Errors, s)
}

func (r *validateResult) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText prints the artifacts to w and the warnings and errors through
// the logger, in lifecycle's style.
func (r *validateResult) writeText(w io.Writer, logger log.Logger) {
	for _, m := range r.Warnings {
		logger.Warn(m)
	}
	for _, e := range r.Errors {
		logger.Error(e.Message)
	}
	where := "layers " + r.LayersDir
	if r.Buildpack != "" {
		where = "buildpack " + r.Buildpack + ", its layers directory " + r.LayersDir
	}
	image := "image tag " + r.ImageTag
	if len(r.Images) == 0 && r.ImageTag != "" {
		image += " (no image given)"
	}
	fmt.Fprintf(w, "Checked %s; tag template %s, %s\n", where, r.TagTemplate, image)
	for _, a := range r.Artifacts {
		if a.SBOM != "" {
			writeSBOMText(w, a)
			continue
		}
		fmt.Fprintf(w, "\nartifact %s (buildpack %s, layer %s, %s, artifact %d)\n", a.PublishedTag, a.Buildpack, a.Layer, a.File, a.Number)
		if a.LayerDir != a.Layer {
			fmt.Fprintf(w, "  note:   directory %s: %s\n", a.LayerDir, artifacts.IgnoredLayerNote)
		}
		if a.PublishedTag != a.Tag {
			fmt.Fprintf(w, "  tag:    %s (declared %s)\n", a.PublishedTag, a.Tag)
		} else {
			fmt.Fprintf(w, "  tag:    %s\n", a.Tag)
		}
		fmt.Fprintf(w, "  type:   %s\n", a.ArtifactType)
		cfg := a.Config.Path
		if cfg == "" {
			cfg = "(none: {})"
		}
		fmt.Fprintf(w, "  config: %s  %s  %d bytes  %s\n", cfg, a.Config.MediaType, a.Config.Size, a.Config.Digest)
		for _, f := range a.Files {
			title := ""
			if f.Title != path.Base(f.Path) {
				title = "  title " + f.Title
			}
			fmt.Fprintf(w, "  file:   %s  %s  %d bytes  %s%s\n", f.Path, f.MediaType, f.Size, f.Digest, title)
		}
		for _, k := range sortedAnnotationKeys(a.Annotations) {
			fmt.Fprintf(w, "  annotation: %s=%s\n", k, a.Annotations[k])
		}
	}
	fmt.Fprintf(w, "\n%s, %s, %s.\n", plural(len(r.Artifacts), "artifact"), plural(len(r.Warnings), "warning"), plural(len(r.Errors), "error"))
	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "An export would fail with exit code 63 and publish nothing.")
	}
}

// writeSBOMText prints an SBOM artifact: format, tag, the buildpacks and
// layers that contributed, and each file.
func writeSBOMText(w io.Writer, a artifactSummary) {
	tag := "untagged (found through the image's referrers)"
	if a.Tag != "" {
		tag = a.PublishedTag
		if a.PublishedTag != a.Tag {
			tag += " (declared " + a.Tag + ")"
		}
	}
	fmt.Fprintf(w, "\nSBOM %s (%s)\n", a.SBOM, a.ArtifactType)
	fmt.Fprintf(w, "  tag:    %s\n", tag)
	for _, k := range sortedAnnotationKeys(a.Annotations) {
		fmt.Fprintf(w, "  %s: %s\n", k, a.Annotations[k])
	}
	for _, f := range a.Files {
		fmt.Fprintf(w, "  file:   %s  %s  %d bytes  %s\n", f.Title, f.MediaType, f.Size, f.Digest)
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func sortedAnnotationKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
