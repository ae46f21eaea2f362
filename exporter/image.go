package exporter

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/buildpacks/imgutil"
)

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

// finisher is imgutil's step that SaveAs runs before writing: it pins the
// created time and the history, after which the digest is final.
type finisher interface {
	SetCreatedAtAndHistory() error
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
