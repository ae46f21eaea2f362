package main

import (
	"errors"
	"strings"

	"github.com/buildpacks/lifecycle/cmd"
	lplatform "github.com/buildpacks/lifecycle/platform"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// exitCode maps an export error to its documented exit code. This is the
// only place errors become exit codes.
func exitCode(err error, p *lplatform.Platform) error {
	var ce *exporter.CommitError
	switch {
	case errors.Is(err, artifacts.ErrInvalid):
		return cmd.FailErrCode(err, platform.CodeInvalidArtifacts, "validate artifacts")
	case errors.As(err, &ce) && ce.Stage == exporter.StageTags && len(ce.Moved) > 0:
		return cmd.FailErrCode(err, platform.CodeTagsIncomplete, "export")
	case errors.As(err, &ce):
		return cmd.FailErrCode(err, platform.CodeRegistryFailed, "export")
	}
	return cmd.FailErrCode(err, p.CodeFor(lplatform.ExportError), "export")
}

func artifactName(a *artifacts.Artifact) string {
	return a.Buildpack.ID + ":" + a.Layer
}

func logAdding(arts []*artifacts.Artifact) {
	for _, a := range arts {
		if a.CarriedFrom != "" {
			cmd.DefaultLogger.Infof("Carrying artifact '%s' (tag '%s', %s) from %s", artifactName(a), a.Tag, a.ArtifactType, a.CarriedFrom)
			continue
		}
		cmd.DefaultLogger.Infof("Adding artifact '%s' (tag '%s', %s)", artifactName(a), a.Tag, a.ArtifactType)
	}
}

// daemonSkipReason says why a daemon export publishes no artifacts.
const daemonSkipReason = "the docker daemon cannot hold OCI artifacts"

func logSkipped(arts []*artifacts.Artifact, reason string) {
	var names []string
	for _, a := range arts {
		names = append(names, "'"+artifactName(a)+"' (tag '"+a.Tag+"')")
	}
	cmd.DefaultLogger.Warnf("Skipping %d artifact(s), %s: %s", len(arts), reason, strings.Join(names, ", "))
}

// logPublished prints the artifacts summary that follows lifecycle's images
// summary.
func logPublished(res *exporter.Result) {
	if res == nil || len(res.Artifacts) == 0 {
		return
	}
	cmd.DefaultLogger.Infof("*** Artifacts:")
	for _, p := range res.Artifacts {
		for _, ref := range p.Refs {
			cmd.DefaultLogger.Infof("      %s (%s)", ref, p.Artifact.ArtifactType)
		}
	}
}

func publishedReports(res *exporter.Result) []platform.ArtifactReport {
	if res == nil {
		return nil
	}
	var out []platform.ArtifactReport
	for _, p := range res.Artifacts {
		out = append(out, platform.ArtifactReport{
			Buildpack:        p.Artifact.Buildpack.ID,
			BuildpackVersion: p.Artifact.Buildpack.Version,
			Layer:            p.Artifact.Layer,
			Tag:              p.Artifact.Tag,
			Type:             p.Artifact.ArtifactType,
			ManifestSize:     p.Manifest.Descriptor.Size,
			Refs:             p.Refs,
			CarriedFrom:      p.Artifact.CarriedFrom,
		})
	}
	return out
}

func skippedReports(arts []*artifacts.Artifact, reason string) []platform.ArtifactReport {
	var out []platform.ArtifactReport
	for _, a := range arts {
		out = append(out, platform.ArtifactReport{
			Buildpack:        a.Buildpack.ID,
			BuildpackVersion: a.Buildpack.Version,
			Layer:            a.Layer,
			Tag:              a.Tag,
			Type:             a.ArtifactType,
			Refs:             []string{},
			Skipped:          reason,
		})
	}
	return out
}
