package exporter

import (
	"context"
	"strings"

	"github.com/buildpacks/imgutil"
	"github.com/buildpacks/lifecycle/platform/files"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// DaemonSkipReason says why a daemon export without a repository publishes
// no artifacts.
const DaemonSkipReason = "the docker daemon cannot hold OCI artifacts"

// daemonTarget leaves the app image to imgutil's daemon save and, when the
// platform named a repository, pushes the artifacts there after it, without
// a subject (the image has no registry digest), annotated with the image ID
// and stamped with the image's created time. Without a repository the
// artifacts are skipped.
type daemonTarget struct {
	repo, imageTag string
	tmpl           platform.TagTemplate
	opts           options
	err            error // the options' error, returned by Plan

	arts []*artifacts.Artifact
	plan *Plan
	img  imgutil.Image
}

// NewDaemonTarget is the target of a daemon export whose image has the tag
// imageTag (it fills {image-tag}); repo, if not empty, receives the
// artifacts.
func NewDaemonTarget(repo, imageTag string, tmpl platform.TagTemplate, opts ...Option) Target {
	o, err := makeOptions(opts)
	return &daemonTarget{repo: repo, imageTag: imageTag, tmpl: tmpl, opts: o, err: err}
}

func (d *daemonTarget) Plan(arts []*artifacts.Artifact) error {
	d.arts = arts
	if d.err != nil || len(arts) == 0 || d.repo == "" {
		return d.err // tag collisions are not checked when nothing is pushed
	}
	var err error
	d.plan, err = NewRepositoryPlan(d.repo, d.imageTag, arts, d.tmpl, d.opts.insecure)
	return err
}

func (d *daemonTarget) Wrap(_ context.Context, img imgutil.Image) (imgutil.Image, error) {
	d.img = img
	if d.opts.signer != nil {
		// A daemon image has no registry digest that a signature could
		// name; its artifacts (pushed without a subject) are not signed
		// either (section 17).
		d.opts.logger.Warnf("Not signing: the image is exported to a Docker daemon, whose images have no registry digest to sign (%s is ignored)", platform.EnvSigningKey)
	}
	if len(d.arts) == 0 {
		return img, nil
	}
	s := &d.opts
	if d.plan == nil {
		var names []string
		for _, a := range d.arts {
			names = append(names, "'"+artifactName(a)+"' (tag '"+a.Tag+"')")
		}
		s.logger.Warnf("Skipping %d artifact(s), %s: %s", len(d.arts), DaemonSkipReason, strings.Join(names, ", "))
		return img, nil
	}
	s.logAdding(d.arts)
	return img, nil
}

func (d *daemonTarget) Finish(ctx context.Context, saved files.ImageReport, saveErr error) (*Result, error) {
	if saveErr != nil {
		return nil, saveErr
	}
	if len(d.arts) == 0 {
		return &Result{}, nil
	}
	if d.plan == nil {
		res := &Result{Skipped: DaemonSkipReason}
		for _, a := range d.arts {
			res.Artifacts = append(res.Artifacts, Published{Artifact: a})
		}
		return res, nil
	}
	created, err := d.img.CreatedAt()
	if err != nil {
		return nil, err
	}
	// lifecycle reports the bare hex; the annotation carries the ID as
	// docker shows it.
	imageID := saved.ImageID
	if !strings.HasPrefix(imageID, "sha256:") {
		imageID = "sha256:" + imageID
	}
	o := d.opts
	o.imageID, o.created = imageID, &created
	tx, err := newTransaction(d.plan, o)
	if err != nil {
		return nil, err
	}
	return tx.Commit(ctx, nil)
}
