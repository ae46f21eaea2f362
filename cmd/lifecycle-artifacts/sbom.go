package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/buildpacks/lifecycle/api"
	"github.com/buildpacks/lifecycle/log"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/sbom"
)

// sbomError is the SBOMs of an export that cannot be published under
// policy required: a buildpack wrote an SBOM that cannot be read or merged.
// Nothing was written (exit 63, like an invalid artifacts.toml).
type sbomError struct{ err error }

func (e *sbomError) Error() string {
	return fmt.Sprintf("%v\nnothing was written; fix the SBOM, or set %s=%s to publish the image without the formats that cannot be made (report.toml then records each)",
		e.err, platform.EnvPolicy, platform.PolicyBestEffort)
}
func (e *sbomError) Unwrap() error { return e.err }

// sbomInput is where an export's SBOM artifacts come from.
type sbomInput struct {
	layersDir   string
	group       []artifacts.Buildpack
	platformAPI *api.Version
	// launcherSBOMDir is the exporter's -launcher-sbom: "" or upstream's
	// default for lifecycle's own /cnb/lifecycle.
	launcherSBOMDir string
	// image names the app in the documents (its repository, without
	// registry, tag or digest: a retag or a rebase changes nothing).
	image string
}

// sbomLauncher is where upstream's exporter (phase/exporter.go,
// copyBuildpacksioSBOMs, lifecycle v0.21.17) takes the launcher's SBOMs
// from: at platform API 0.11 and later, lifecycle's launcher.sbom.<ext>.json
// in /cnb/lifecycle, or every SBOM file of a custom -launcher-sbom
// directory; earlier, none.
func (in sbomInput) sbomLauncher() sbom.Launcher {
	return launcherSBOMs(in.platformAPI, in.launcherSBOMDir, lplatform.DefaultBuildpacksioSBOMDir)
}

// launcherSBOMs is sbomLauncher's decision, with upstream's default
// directory (/cnb/lifecycle) given as defaultDir: dir is -launcher-sbom.
func launcherSBOMs(platformAPI *api.Version, dir, defaultDir string) sbom.Launcher {
	if platformAPI.LessThan("0.11") {
		return sbom.Launcher{}
	}
	l := sbom.Launcher{Dir: defaultDir, Version: platform.UpstreamVersion()}
	if dir != "" && dir != defaultDir {
		l.Dir, l.Custom = dir, true
	}
	if _, err := os.Stat(l.Dir); errors.Is(err, fs.ErrNotExist) {
		// Upstream warns ("Did not find SBOM …") and exports without them.
		return sbom.Launcher{}
	}
	return l
}

// sbomDocuments finds and merges the launch SBOMs of an export: the
// documents of the formats that could be made, and the error of those
// that could not (joined *sbom.FormatErrors, or a problem that concerns
// every format).
func (in sbomInput) sbomDocuments() ([]sbom.Document, error) {
	srcs, findErr := sbom.Find(in.layersDir, in.group, in.sbomLauncher())
	docs, mergeErr := sbom.Merge(srcs, sbom.Options{Name: in.image})
	return docs, errors.Join(findErr, mergeErr)
}

// appName is the name the SBOM documents give the app: the repository path
// of the image name, without registry, tag or digest.
func appName(ref string) string {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return ""
	}
	return r.Context().RepositoryStr()
}

// sbomArtifacts makes this export's SBOM artifacts (docs/spec.md section
// 16), under the settings' SBOM mode and policy: nothing when it is off; a
// format that cannot be made fails the export under required (a
// *sbomError, before any write) and is a report entry under best-effort;
// on the daemon target, which has no referrers, every format is a report
// entry, with one warning.
func sbomArtifacts(logger log.Logger, s settings, in sbomInput) ([]*artifacts.Artifact, []platform.ArtifactReport, error) {
	if !s.sbomOn() {
		return nil, nil, nil
	}
	if in.platformAPI.LessThan("0.8") {
		logger.Warnf("%s=%s: not publishing SBOMs: platform API %s has no SBOM layer (0.8 and later do)", platform.EnvSBOM, s.SBOM, in.platformAPI)
		return nil, nil, nil
	}
	docs, err := in.sbomDocuments()
	var skipped []platform.ArtifactReport
	if err != nil {
		if !s.bestEffort() {
			return nil, nil, &sbomError{err: err}
		}
		for _, e := range splitErrors(err) {
			logger.Warnf("Skipping SBOM: %v (%s=%s)", e, platform.EnvPolicy, platform.PolicyBestEffort)
			r := sbomReport("", fmt.Sprintf("SBOM not published: %v", e))
			var fe *sbom.FormatError
			if errors.As(e, &fe) {
				r.Type = fe.Format.MediaType
			}
			skipped = append(skipped, r)
		}
	}
	var out []*artifacts.Artifact
	for _, d := range docs {
		for _, o := range d.Omitted {
			logger.Warnf("SBOM %s: %s", d.Format.Name, o)
		}
		a, err := artifacts.NewSBOM(artifacts.SBOMSpec{
			Format: d.Format.Name, MediaType: d.Format.MediaType, Files: sbomFiles(d),
			Tag: s.SBOMTagFor(d.Format.Name), Version: platform.UpstreamVersion(), Annotations: d.Annotations,
		})
		if err != nil {
			return nil, nil, &sbomError{err: err}
		}
		out = append(out, a)
	}
	if s.kind == kindDaemon && len(out) > 0 {
		var formats []string
		for _, a := range out {
			formats = append(formats, a.SBOM)
			skipped = append(skipped, sbomReport(a.ArtifactType, daemonSBOMReason))
		}
		logger.Warnf("Skipping %d SBOM(s) (%s): %s", len(out), strings.Join(formats, ", "), daemonSBOMReason)
		return nil, skipped, nil
	}
	return out, skipped, nil
}

// daemonSBOMReason is why a daemon export publishes no SBOM artifact.
const daemonSBOMReason = "the daemon has no referrers: SBOM artifacts are published to registries and OCI layouts (the image's SBOM layer still holds them)"

// sbomReport is the report entry of an SBOM format that was not published.
func sbomReport(mediaType, why string) platform.ArtifactReport {
	return platform.ArtifactReport{Buildpack: artifacts.SBOMBuildpack, BuildpackVersion: platform.UpstreamVersion(),
		Layer: artifacts.SBOMLayer, Type: mediaType, Refs: []string{}, Skipped: why}
}

// sbomFiles are the artifact's layers: the merged document as
// sbom.<format>.json, or, for a format that is not merged, each source's
// document under its path in the image's SBOM layer.
func sbomFiles(d sbom.Document) []artifacts.SBOMFile {
	if d.Parts == nil {
		return []artifacts.SBOMFile{{Title: d.Format.Ext, Content: d.Content}}
	}
	var out []artifacts.SBOMFile
	for i, p := range d.Parts {
		out = append(out, artifacts.SBOMFile{Title: layerPath(d.Sources[i]), Content: p})
	}
	return out
}

// layerPath is where a source's file is in the image's SBOM layer
// (/layers/sbom/launch/…): where the builder copied it, or, for the
// launcher's, where upstream's exporter copies it.
func layerPath(s sbom.Source) string {
	if s.Buildpack.ID == sbom.LifecycleID && s.Layer == sbom.LauncherLayer {
		return path.Join(sbom.EscapeID(sbom.LifecycleID), sbom.LauncherLayer, s.Format.Ext)
	}
	return strings.TrimPrefix(s.Path, "sbom/launch/")
}

// splitErrors undoes errors.Join, one level.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	return []error{err}
}
