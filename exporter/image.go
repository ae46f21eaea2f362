package exporter

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/buildpacks/imgutil"
	"github.com/buildpacks/lifecycle/platform/files"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// registryTarget publishes into the app image's repositories: the working
// image's SaveAs runs the transaction instead of imgutil's tag-by-tag write.
type registryTarget struct {
	names []string
	tmpl  platform.TagTemplate
	opts  options
	err   error // the options' error, returned by Plan

	arts  []*artifacts.Artifact
	plan  *Plan
	saved *Image
}

// NewRegistryTarget is the target of a registry export of the app image
// under names, the first the primary one, as the phase will save it.
func NewRegistryTarget(names []string, tmpl platform.TagTemplate, opts ...Option) Target {
	o, err := makeOptions(opts)
	return &registryTarget{names: append([]string(nil), names...), tmpl: tmpl, opts: o, err: err}
}

func (r *registryTarget) Plan(arts []*artifacts.Artifact) error {
	r.arts = arts
	if r.err != nil || (len(arts) == 0 && r.opts.signer == nil) {
		// Nothing to publish or sign: the stock save.
		return r.err
	}
	var err error
	if r.plan, err = NewPlan(r.names, arts, r.tmpl, r.opts.insecure); err != nil {
		return err
	}
	return r.plan.CheckReservedTags(r.opts.reserved, r.opts.insecure)
}

func (r *registryTarget) Wrap(ctx context.Context, img imgutil.Image) (imgutil.Image, error) {
	if r.plan == nil {
		// Nothing to publish or sign: the stock save. The previous image's
		// artifacts are still stale (R15.1-1).
		if err := r.warnStale(ctx); err != nil {
			return nil, err
		}
		return img, nil
	}
	tx, err := newTransaction(r.plan, r.opts)
	if err != nil {
		return nil, err
	}
	if r.saved, err = Wrap(ctx, img, tx); err != nil {
		return nil, err
	}
	tx.logAdding(r.arts)
	return r.saved, nil
}

// warnStale warns of the previous image's artifacts for an export that
// publishes none.
func (r *registryTarget) warnStale(ctx context.Context) error {
	if r.opts.previous == nil {
		return nil
	}
	plan, err := NewPlan(r.names, nil, r.tmpl, r.opts.insecure)
	if err != nil {
		return err
	}
	tx, err := newTransaction(plan, r.opts)
	if err != nil {
		return err
	}
	writers, _, err := tx.dial(ctx)
	if err != nil {
		tx.logger.Debugf("Not checking for stale artifacts: %v", err)
		return nil
	}
	tx.warnStale(ctx, writers, tx.previousArtifacts(ctx, writers))
	return nil
}

// Finish returns what the save committed; a failed commit's error wins over
// the phase's, which wraps it less precisely.
func (r *registryTarget) Finish(_ context.Context, _ files.ImageReport, saveErr error) (*Result, error) {
	if r.saved == nil {
		return &Result{}, saveErr
	}
	return committed(r.saved.Result, saveErr)
}

// committed returns what a save committed (result); when the phase's save
// failed, the commit's own error wins over the phase's, which wraps it less
// precisely. The registry and layout targets finish here.
func committed(result func() (*Result, error), saveErr error) (*Result, error) {
	res, err := result()
	if saveErr != nil {
		if err != nil {
			return nil, err
		}
		return nil, saveErr
	}
	return res, err
}

// Image decorates the working image of lifecycle's phase.Exporter: every
// method is the wrapped image's, except SaveAs, which commits the
// transaction. Identifier, ManifestSize and the rest still come from the
// wrapped image, so the phase's report and logs are what stock produces.
type Image struct {
	imgutil.Image
	ctx context.Context
	tx  *Transaction

	result *Result
	err    error
}

// Wrap decorates img, which must be a registry image (imgutil's remote kind).
func Wrap(ctx context.Context, img imgutil.Image, tx *Transaction) (*Image, error) {
	if img.Kind() != "remote" {
		return nil, fmt.Errorf("artifacts are published with registry images only, not %q", img.Kind())
	}
	if _, ok := img.(finisher); !ok {
		return nil, fmt.Errorf("image %T cannot be finished before saving", img)
	}
	return &Image{Image: img, ctx: ctx, tx: tx}, nil
}

// SaveAs commits the transaction. The names must be those the plan was made
// from. When the tag step fails, the app image's names that did not move are
// returned as an imgutil.SaveError, so the phase reports them as it reports
// any failed tag.
func (i *Image) SaveAs(name string, additionalNames ...string) error {
	names := append([]string{name}, additionalNames...)
	if !slices.Equal(names, i.tx.plan.raw) {
		return fmt.Errorf("saving as %v, but the export was planned for %v", names, i.tx.plan.raw)
	}
	if err := i.Image.(finisher).SetCreatedAtAndHistory(); err != nil {
		return err
	}
	i.result, i.err = i.tx.Commit(i.ctx, i.Image.UnderlyingImage())
	var ce *CommitError
	if !errors.As(i.err, &ce) || ce.Stage != StageTags {
		return i.err
	}
	var diags []imgutil.SaveDiagnostic
	for k, n := range names {
		if !slices.Contains(ce.Moved, i.tx.plan.names[k].Name()) {
			diags = append(diags, imgutil.SaveDiagnostic{ImageName: n, Cause: ce})
		}
	}
	if len(diags) == 0 {
		return i.err
	}
	return imgutil.SaveError{Errors: diags}
}

// Result is the outcome of SaveAs: what was published, or why not. It is
// nil, nil before SaveAs ran.
func (i *Image) Result() (*Result, error) { return i.result, i.err }
