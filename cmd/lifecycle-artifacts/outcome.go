package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/buildpacks/lifecycle/cmd"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/buildpacks/lifecycle/platform/files"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/signing"
)

// exitCode maps an export error to its documented exit code. This is the
// only place errors become exit codes.
func exitCode(err error, p *lplatform.Platform) error {
	if code, step, ok := artifactsCode(err); ok {
		return cmd.FailErrCode(err, code, step)
	}
	return cmd.FailErrCode(err, p.CodeFor(lplatform.ExportError), "export")
}

// rebaseExitCode maps a rebase error: the export's codes for what the
// export transaction and the artifacts report, lifecycle's rebase error
// for the rest, as upstream's rebaser.
func rebaseExitCode(err error, p *lplatform.Platform) error {
	if code, step, ok := artifactsCode(err); ok {
		return cmd.FailErrCode(err, code, step)
	}
	if errors.Is(err, artifacts.ErrFile) {
		return cmd.FailErrCode(err, p.CodeFor(lplatform.ExportError), "export")
	}
	return cmd.FailErrCode(err, p.CodeFor(lplatform.RebaseError), "rebase")
}

// artifactsCode is the exit code (docs/spec.md 9) of an error of the
// artifacts or of the export transaction, and the step it failed; ok is
// false for any other error, whose code is the phase's own.
func artifactsCode(err error) (code int, step string, ok bool) {
	var (
		ce    *exporter.CommitError
		carry *carryError
		names *nameError
		read  *readArtifactsError
		sboms *sbomError
	)
	switch {
	case errors.Is(err, signing.ErrKey):
		// A key that could not be decrypted, found by the transaction
		// before its first write: an invalid input, as when it is read.
		return cmd.CodeForInvalidArgs, "load signing key", true
	case errors.As(err, &carry):
		return platform.CodeRegistryFailed, "carry artifacts", true
	case errors.As(err, &read):
		return platform.CodeRegistryFailed, "read artifacts", true
	case errors.As(err, &sboms):
		return platform.CodeInvalidArtifacts, "make SBOMs", true
	case errors.As(err, &names):
		return platform.CodeInvalidArtifacts, "check image names", true
	case errors.Is(err, artifacts.ErrInvalid):
		return platform.CodeInvalidArtifacts, "validate artifacts", true
	case errors.As(err, &ce) && ce.Stage == exporter.StageTags && len(ce.Moved) > 0:
		return platform.CodeTagsIncomplete, "export", true
	case errors.As(err, &ce):
		return platform.CodeRegistryFailed, "export", true
	}
	return 0, "", false
}

// carryError is the reused layers whose artifacts could not be carried,
// under policy required: the export fails before any write (exit 64).
type carryError struct{ probs []exporter.CarryProblem }

func (e *carryError) Error() string {
	var b strings.Builder
	for _, p := range e.probs {
		fmt.Fprintf(&b, "%v\n", p)
	}
	fmt.Fprintf(&b, "nothing was written; set %s=%s to publish the image without them (report.toml then records each as not carried)",
		platform.EnvPolicy, platform.PolicyBestEffort)
	return b.String()
}

// readArtifactsError is a failed read of the artifacts a rebase or a
// reattach publishes again (the registry failed, or cannot tell the
// image's referrers): nothing was written (exit 64), and nothing is
// dropped.
type readArtifactsError struct{ err error }

func (e *readArtifactsError) Error() string {
	return fmt.Sprintf("reading the artifacts to publish again: %v; nothing was written", e.err)
}
func (e *readArtifactsError) Unwrap() error { return e.err }

// nameError is a name a command was told to move that names another image
// than the one it moves (exit 63, before any write).
type nameError struct {
	name, names, want string
}

func (e *nameError) Error() string {
	return fmt.Sprintf("%s names %s, not the image being re-attached %s: refusing to move it (name only the image's own tags, or new ones)", e.name, e.names, e.want)
}

// logPublished prints the artifacts summary that follows lifecycle's images
// summary.
func logPublished(res *exporter.Result) {
	logArtifacts(res)
	logSignatures(res)
}

// logSignatures lists each signature the command wrote, after what it
// signs (docs/spec.md section 17).
func logSignatures(res *exporter.Result) {
	if res == nil || res.Signature.Digest == (v1.Hash{}) {
		return
	}
	cmd.DefaultLogger.Infof("*** Signatures:")
	cmd.DefaultLogger.Infof("      %s (app image): %s", res.Subject.Digest, res.Signature.Digest)
	for _, p := range res.Artifacts {
		if p.Signature.Digest != (v1.Hash{}) {
			cmd.DefaultLogger.Infof("      %s (artifact '%s:%s'): %s", p.Manifest.Descriptor.Digest, p.Artifact.Buildpack.ID, p.Artifact.Layer, p.Signature.Digest)
		}
	}
}

func logArtifacts(res *exporter.Result) {
	if res == nil || len(res.Artifacts) == 0 || res.Skipped != "" {
		return
	}
	cmd.DefaultLogger.Infof("*** Artifacts:")
	for _, p := range res.Artifacts {
		// An artifact may be published in some repositories and skipped in
		// others (best-effort, R10-6): both are said.
		for _, ref := range p.Refs {
			cmd.DefaultLogger.Infof("      %s (%s)", ref, p.Artifact.ArtifactType)
		}
		if p.Skipped != "" {
			cmd.DefaultLogger.Infof("      skipped '%s:%s' (tag '%s'): %s", p.Artifact.Buildpack.ID, p.Artifact.Layer, p.Artifact.Tag, p.Skipped)
		}
	}
}

// artifactReports are the [[artifacts]] entries of report.toml: one per
// artifact, published or skipped.
// newReport is report.toml for what a command published: lifecycle's
// build and image tables, one [[artifacts]] entry per artifact of res and
// each of extra (not carried, skipped SBOMs), and the app image's signature.
func newReport(build files.BuildReport, image files.ImageReport, res *exporter.Result, extra ...platform.ArtifactReport) platform.Report {
	r := platform.Report{Build: build, Image: image, Artifacts: append(artifactReports(res), extra...)}
	if res != nil && res.Signature.Digest != (v1.Hash{}) {
		r.ImageSignature = &platform.SignatureReport{Signed: res.Subject.Digest.String(), Signature: res.Signature.Digest.String()}
	}
	return r
}

func artifactReports(res *exporter.Result) []platform.ArtifactReport {
	if res == nil {
		return nil
	}
	if res.Skipped != "" {
		return skippedReports(res)
	}
	var out []platform.ArtifactReport
	for _, p := range res.Artifacts {
		r := platform.ArtifactReport{
			Buildpack:        p.Artifact.Buildpack.ID,
			BuildpackVersion: p.Artifact.Buildpack.Version,
			Layer:            p.Artifact.Layer,
			Tag:              p.Artifact.Tag,
			Type:             p.Artifact.ArtifactType,
			ManifestSize:     p.Manifest.Descriptor.Size,
			Refs:             p.Refs,
			Skipped:          p.Skipped,
			CarriedFrom:      p.Artifact.CarriedFrom,
		}
		if p.Signature.Digest != (v1.Hash{}) {
			r.Signature = p.Signature.Digest.String()
		}
		out = append(out, r)
	}
	return out
}

func skippedReports(res *exporter.Result) []platform.ArtifactReport {
	var out []platform.ArtifactReport
	for _, p := range res.Artifacts {
		a := p.Artifact
		out = append(out, platform.ArtifactReport{
			Buildpack:        a.Buildpack.ID,
			BuildpackVersion: a.Buildpack.Version,
			Layer:            a.Layer,
			Tag:              a.Tag,
			Type:             a.ArtifactType,
			Refs:             []string{},
			Skipped:          res.Skipped,
		})
	}
	return out
}
