package exporter

import (
	"context"

	"github.com/buildpacks/imgutil"
	"github.com/buildpacks/lifecycle/log"
	"github.com/buildpacks/lifecycle/platform/files"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// Target is where an export puts the app image and its artifacts: a
// registry (NewRegistryTarget), an OCI layout (NewLayoutTarget) or the Docker
// daemon (NewDaemonTarget). cmd chooses one, once, from the platform's
// inputs, as upstream's exporter chooses its image kind, and every command
// that saves an app image goes through it in three steps:
//
//  1. Plan, before the working image is made: where each artifact goes,
//     checking tag collisions (artifacts.ErrInvalid), so that bad input
//     fails before any write;
//  2. Wrap the working image; upstream's phase then saves it, and the save
//     publishes the artifacts where the target does that within it;
//  3. Finish, after upstream's save, with what it reported: publish what is
//     left, and return the one Result that cmd turns into logs, report.toml
//     and the exit code.
//
// Like oras-go's Target, it hides where the bytes go; the transaction's
// order (docs/spec.md section 7) is the same for all.
type Target interface {
	Plan(arts []*artifacts.Artifact) error
	Wrap(ctx context.Context, img imgutil.Image) (imgutil.Image, error)
	Finish(ctx context.Context, saved files.ImageReport, saveErr error) (*Result, error)
}

// finisher is imgutil's step that SaveAs runs before writing: it pins the
// created time and the history, after which the digest is final.
type finisher interface {
	SetCreatedAtAndHistory() error
}

// logAdding announces the artifacts a target will publish.
func (o *options) logAdding(arts []*artifacts.Artifact) { LogAdding(o.logger, arts) }

// LogAdding announces, before the export, the artifacts it will publish:
// declared ("Adding") or carried from a previous image ("Carrying").
func LogAdding(logger log.Logger, arts []*artifacts.Artifact) {
	for _, a := range arts {
		switch {
		case a.SBOM != "" && a.CarriedFrom != "":
			logger.Infof("Re-attaching SBOM '%s' (%s, %s) from %s", a.SBOM, tagLabel(a), a.ArtifactType, a.CarriedFrom)
		case a.SBOM != "":
			logger.Infof("Adding SBOM '%s' (%s, %s)", a.SBOM, tagLabel(a), a.ArtifactType)
		case a.CarriedFrom != "":
			logger.Infof("Carrying artifact '%s' (%s, %s) from %s", artifactName(a), tagLabel(a), a.ArtifactType, a.CarriedFrom)
		default:
			logger.Infof("Adding artifact '%s' (%s, %s)", artifactName(a), tagLabel(a), a.ArtifactType)
		}
	}
}

func artifactName(a *artifacts.Artifact) string {
	return a.Buildpack.ID + ":" + a.Layer
}

// tagLabel is how logs name an artifact's declared tag: "tag 'wasm'", or
// "untagged" for an artifact found through its subject's referrers only.
func tagLabel(a *artifacts.Artifact) string {
	if a.Tag == "" {
		return "untagged"
	}
	return "tag '" + a.Tag + "'"
}
