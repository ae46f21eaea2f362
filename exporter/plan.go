package exporter

import (
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// Plan says where each artifact goes: every repository that the app image is
// written to, under a tag derived from the declared one.
type Plan struct {
	raw       []string   // the image names as given
	names     []name.Tag // parallel to raw; the first is the primary
	repos     []*repoPlan
	artifacts []*artifacts.Artifact
	template  platform.TagTemplate
}

// repoPlan is one repository the export writes to.
type repoPlan struct {
	repo         name.Repository
	imageTags    []name.Tag // the app image's names in this repository
	artifactTags []name.Tag // parallel to Plan.artifacts
}

// CollisionError reports a published artifact tag that clashes with another
// tag of the same export. It is an invalid declaration (artifacts.ErrInvalid).
type CollisionError struct {
	Tag      string
	Artifact artifacts.Declaration
	With     string
	// Fix says how to avoid the collision.
	Fix string
}

// Error has the format of every declaration error (artifacts.DeclarationError).
func (e *CollisionError) Error() string {
	d := e.Artifact
	return (&artifacts.DeclarationError{
		Buildpack: d.Buildpack, Layer: d.Layer, File: d.Source, Tag: d.Tag, Index: d.Index,
		Err: fmt.Errorf("published tag %q collides with %s", e.Tag, e.With), Fix: e.Fix,
	}).Error()
}

// templateFix is the fix of a published tag that another tag takes.
var templateFix = fmt.Sprintf("change the tag, or have the platform set %s (for example %q) so that artifact tags differ from the image's",
	platform.EnvArtifactTagTemplate, "{image-tag}-{tag}")

// Is makes every CollisionError an artifacts.ErrInvalid.
func (e *CollisionError) Is(target error) bool { return target == artifacts.ErrInvalid }

// NewPlan resolves the image names and checks every published artifact tag.
// The first name is the primary one. Registries listed in insecure are
// reached without TLS verification, as lifecycle does.
func NewPlan(imageNames []string, arts []*artifacts.Artifact, tmpl platform.TagTemplate, insecure []string) (*Plan, error) {
	if len(imageNames) == 0 {
		return nil, fmt.Errorf("no image name")
	}
	if err := checkSet(arts); err != nil {
		return nil, err
	}
	p := &Plan{artifacts: arts, raw: append([]string(nil), imageNames...), template: tmpl}
	byRepo := map[string]*repoPlan{}
	for _, n := range imageNames {
		tag, err := name.NewTag(n, registry.NameOptions(n, insecure)...)
		if err != nil {
			return nil, fmt.Errorf("image name %q: %w", n, err)
		}
		p.names = append(p.names, tag)
		key := tag.Context().Name()
		t, ok := byRepo[key]
		if !ok {
			t = &repoPlan{repo: tag.Context()}
			byRepo[key] = t
			p.repos = append(p.repos, t)
		}
		t.imageTags = append(t.imageTags, tag)
	}

	var errs []error
	for _, t := range p.repos {
		errs = append(errs, t.planArtifacts(arts, tmpl, t.imageTags[0].TagStr(), insecure)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// NewRepositoryPlan plans the artifacts alone into repo, for an app image
// that is not in a registry (a daemon export). imageTag, the app image's
// tag, fills {image-tag}.
func NewRepositoryPlan(repo, imageTag string, arts []*artifacts.Artifact, tmpl platform.TagTemplate, insecure []string) (*Plan, error) {
	r, err := name.NewRepository(repo, registry.NameOptions(repo, insecure)...)
	if err != nil {
		return nil, fmt.Errorf("artifacts repository %q: %w", repo, err)
	}
	if err := checkSet(arts); err != nil {
		return nil, err
	}
	t := &repoPlan{repo: r}
	if errs := t.planArtifacts(arts, tmpl, imageTag, insecure); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Plan{artifacts: arts, repos: []*repoPlan{t}, template: tmpl}, nil
}

// checkSet holds the artifacts of one export, declared and carried
// together, to the rules of a declared set (docs/spec.md, R5-5): at most
// artifacts.MaxArtifacts, and one artifact per declared tag, so one per
// published tag in each repository (the template keeps distinct tags
// distinct, R5-3). artifacts.Load holds declarations alone to them;
// carried artifacts come later, from the previous image.
func checkSet(arts []*artifacts.Artifact) error {
	if len(arts) > artifacts.MaxArtifacts {
		return fmt.Errorf("%w: %w: %d artifacts (declared and carried), more than %d per export",
			artifacts.ErrInvalid, artifacts.ErrLimit, len(arts), artifacts.MaxArtifacts)
	}
	var errs []error
	first := map[string]*artifacts.Artifact{}
	for _, a := range arts {
		if a.Tag == "" {
			continue // untagged (an SBOM artifact by default): nothing to collide
		}
		o, ok := first[a.Tag]
		if !ok {
			first[a.Tag] = a
			continue
		}
		// Name the declared one first: its buildpack can change the tag.
		if a.CarriedFrom != "" && o.CarriedFrom == "" {
			a, o = o, a
		}
		with := describe(o)
		if a.CarriedFrom != "" {
			with += "; this one is carried from " + a.CarriedFrom
		}
		fix := "change the tag of one of them (a carried artifact keeps the tag it was declared with until its buildpack writes the layer again)"
		if a.CarriedFrom != "" && o.Buildpack.ID == a.Buildpack.ID && o.Layer == a.Layer {
			// Two versions of one artifact, both referrers of the previous
			// image: which one its tag names is not the plan's to guess.
			fix = "have the buildpack write the layer again, so that it declares its artifacts"
		}
		errs = append(errs, &CollisionError{Tag: a.Tag, Artifact: a.Declaration, With: with, Fix: fix})
	}
	return errors.Join(errs...)
}

// describe names an artifact in a collision.
func describe(a *artifacts.Artifact) string {
	if a.CarriedFrom != "" {
		return fmt.Sprintf("the artifact of buildpack %q, layer %q, carried from %s (the layer is reused)", a.Buildpack.ID, a.Layer, a.CarriedFrom)
	}
	return fmt.Sprintf("the artifact of buildpack %q, layer %q, file %q, artifact %d", a.Buildpack.String(), a.Layer, a.Source, a.Index+1)
}

// planArtifacts derives each artifact's tag in t and checks it against the
// tag grammar, the referrers fallback schema and the image's tags in t.
func (t *repoPlan) planArtifacts(arts []*artifacts.Artifact, tmpl platform.TagTemplate, imageTag string, insecure []string) []error {
	var errs []error
	for _, a := range arts {
		if a.Tag == "" {
			// Untagged: found through its subject's referrers only.
			t.artifactTags = append(t.artifactTags, name.Tag{})
			continue
		}
		published := tmpl.Expand(a.Tag, imageTag)
		tag, err := name.NewTag(t.repo.Name()+":"+published, registry.NameOptions(t.repo.Name(), insecure)...)
		if err != nil {
			errs = append(errs, &CollisionError{Tag: published, Artifact: a.Declaration,
				With: fmt.Sprintf("the tag grammar after applying %s %q: %v", platform.EnvArtifactTagTemplate, tmpl, err),
				Fix:  "shorten the tag, or the template"})
			continue
		}
		if artifacts.IsFallbackTag(published) {
			errs = append(errs, &CollisionError{Tag: published, Artifact: a.Declaration,
				With: "the referrers fallback tag schema (<alg>-<hex>)", Fix: templateFix})
		}
		for _, it := range t.imageTags {
			if it.TagStr() == published {
				errs = append(errs, &CollisionError{Tag: published, Artifact: a.Declaration,
					With: fmt.Sprintf("app image tag %s", it.Name()), Fix: templateFix})
			}
		}
		t.artifactTags = append(t.artifactTags, tag)
	}
	return errs
}

// PublishedTags returns, for artifact i, its tag in each repository; none
// for an untagged artifact.
func (p *Plan) PublishedTags(i int) []name.Tag {
	var out []name.Tag
	for _, t := range p.repos {
		if tagged(t.artifactTags[i]) {
			out = append(out, t.artifactTags[i])
		}
	}
	return out
}

// tagged says whether a planned artifact tag is one: an untagged artifact
// (Declaration.Tag "") has the zero name.Tag in every repository.
func tagged(t name.Tag) bool { return t.TagStr() != "" }
