// This file mirrors upstream's cmd/lifecycle/exporter.go, lifecycle v0.21.17
// (the version in go.mod): DefineFlags is upstream's verbatim, and Args,
// Privileges, Exec and export follow upstream's with the artifacts added.
// TestMirrorsUpstream compares DefineFlags with the module cache's copy and
// fails with a diff when go.mod moves lifecycle to a version that changed it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/buildpacks/lifecycle/auth"
	"github.com/buildpacks/lifecycle/buildpack"
	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/cmd/lifecycle/cli"
	"github.com/buildpacks/lifecycle/layers"
	"github.com/buildpacks/lifecycle/log"
	"github.com/buildpacks/lifecycle/phase"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/buildpacks/lifecycle/priv"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/client"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// exportCmd is lifecycle's export command with the artifacts added. Its
// flags, inputs, privilege handling and exit codes are lifecycle's.
type exportCmd struct {
	*lplatform.Platform
	exportDeps
}

// exportDeps is what an export resolves before it drops privileges: the
// exporter resolves them itself, the creator before its first phase.
type exportDeps struct {
	docker   client.APIClient // made before privileges are dropped
	keychain authn.Keychain   // made before privileges are dropped

	analyzed files.Analyzed
	settings settings // decided once from the inputs (settings.go)
}

func newExportCmd(api string) *exportCmd {
	return &exportCmd{Platform: lplatform.NewPlatformFor(api)}
}

// DefineFlags defines the stock exporter's flags for the platform API.
func (e *exportCmd) DefineFlags() {
	if e.PlatformAPI.AtLeast("0.13") {
		cli.FlagInsecureRegistries(&e.InsecureRegistries)
	}
	if e.PlatformAPI.AtLeast("0.12") {
		cli.FlagExtendedDir(&e.ExtendedDir)
		cli.FlagLayoutDir(&e.LayoutDir)
		cli.FlagRunPath(&e.RunPath)
		cli.FlagUseLayout(&e.UseLayout)
	}
	if e.PlatformAPI.AtLeast("0.11") {
		cli.FlagLauncherSBOMDir(&e.LauncherSBOMDir)
	}
	cli.FlagAnalyzedPath(&e.AnalyzedPath)
	cli.FlagAppDir(&e.AppDir)
	cli.FlagCacheDir(&e.CacheDir)
	cli.FlagCacheImage(&e.CacheImageRef)
	cli.FlagGID(&e.GID)
	cli.FlagGroupPath(&e.GroupPath)
	cli.FlagLaunchCacheDir(&e.LaunchCacheDir)
	cli.FlagLauncherPath(&e.LauncherPath)
	cli.FlagLayersDir(&e.LayersDir)
	cli.FlagLogLevel(&e.LogLevel)
	cli.FlagNoColor(&e.NoColor)
	cli.FlagParallelExport(&e.ParallelExport)
	cli.FlagProcessType(&e.DefaultProcessType)
	cli.FlagProjectMetadataPath(&e.ProjectMetadataPath)
	cli.FlagReportPath(&e.ReportPath)
	cli.FlagRunImage(&e.RunImageRef)
	cli.FlagUID(&e.UID)
	cli.FlagUseDaemon(&e.UseDaemon)
	cli.DeprecatedFlagRunImage(&e.DeprecatedRunImageRef)
	if e.PlatformAPI.LessThan("0.12") {
		cli.FlagStackPath(&e.StackPath)
	}
}

// Args takes the image names and resolves lifecycle's inputs and ours.
func (e *exportCmd) Args(nargs int, args []string) error {
	if nargs == 0 {
		return cmd.FailErrCode(errors.New("at least one image argument is required"), cmd.CodeForInvalidArgs, "parse arguments")
	}
	e.OutputImageRef = args[0]
	e.AdditionalTags = args[1:]
	if err := lplatform.ResolveInputs(lplatform.Export, e.LifecycleInputs, cmd.DefaultLogger); err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "resolve inputs")
	}
	var err error
	if e.settings, err = newSettings(e.LifecycleInputs, e.InsecureRegistries, os.Getenv); err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "resolve inputs")
	}
	if e.analyzed, err = files.Handler.ReadAnalyzed(e.AnalyzedPath, cmd.DefaultLogger); err != nil {
		return err
	}
	if e.settings.kind == kindLayout {
		if err := lplatform.GuardExperimental(lplatform.LayoutFormat, cmd.DefaultLogger); err != nil {
			return err
		}
	}
	return nil
}

// Privileges resolves credentials and the daemon client, then drops to the
// CNB user, as lifecycle does.
func (e *exportCmd) Privileges() error {
	var err error
	if e.keychain, err = auth.DefaultKeychain(e.registryImages()...); err != nil {
		return cmd.FailErr(err, "resolve keychain")
	}
	if e.settings.kind == kindDaemon {
		if e.docker, err = priv.DockerClient(); err != nil {
			return cmd.FailErr(err, "initialize docker client")
		}
	}
	// The exporter runs no buildpack: the key is read as root, whoever can
	// read the file.
	if err := e.settings.loadSigner(cmd.DefaultLogger, nil); err != nil {
		return err
	}
	return e.dropPrivileges()
}

// dropPrivileges hands the cache volumes to the CNB user and becomes it.
func (e *exportCmd) dropPrivileges() error {
	var err error
	if err = priv.EnsureOwner(e.UID, e.GID, e.CacheDir, e.LaunchCacheDir); err != nil {
		return cmd.FailErr(err, "chown volumes")
	}
	if err = priv.RunAs(e.UID, e.GID); err != nil {
		return cmd.FailErr(err, fmt.Sprintf("exec as user %d:%d", e.UID, e.GID))
	}
	return nil
}

func (e *exportCmd) registryImages() []string {
	imgs := e.RegistryImages()
	switch {
	case e.settings.kind == kindRegistry && e.analyzed.PreviousImageRef() != "":
		imgs = append(imgs, e.analyzed.PreviousImageRef())
	case e.settings.kind == kindDaemon && e.settings.DaemonRepository != "":
		imgs = append(imgs, e.settings.DaemonRepository)
	}
	return imgs
}

// Exec validates every artifact declaration before anything else runs, then
// exports.
func (e *exportCmd) Exec() error {
	group, err := files.Handler.ReadGroup(e.GroupPath)
	if err != nil {
		return err
	}
	if err := verifyBuildpackApis(group); err != nil {
		return err
	}
	// The digest cache of the layers directory: opened here, used by every
	// target, saved once the export has read the files.
	digests := artifacts.OpenDigestCache(e.LayersDir)
	defer func() {
		if err := digests.Save(); err != nil {
			cmd.DefaultLogger.Debugf("%v", err)
		}
	}()
	var arts []*artifacts.Artifact
	if e.settings.artifactsOn() {
		if arts, err = loadArtifacts(cmd.DefaultLogger, e.LayersDir, group, digests); err != nil {
			return exitCode(err, e.Platform)
		}
	}
	cacheStore, err := initCache(e.CacheImageRef, e.CacheDir, e.keychain, e.PlatformAPI.LessThan("0.13"), e.InsecureRegistries...)
	if err != nil {
		return err
	}
	if e.hasExtendedLayers() && e.PlatformAPI.LessThan("0.13") {
		if err := lplatform.GuardExperimental(lplatform.FeatureDockerfiles, cmd.DefaultLogger); err != nil {
			return err
		}
	}
	return e.export(context.Background(), group, arts, cacheStore, digests)
}

// loadArtifacts reads and validates every declaration of the group, and
// warns of declaration files that will not be read.
func loadArtifacts(logger log.Logger, layersDir string, group buildpack.Group, digests *artifacts.DigestCache) ([]*artifacts.Artifact, error) {
	var bps []artifacts.Buildpack
	for _, bp := range group.Group {
		bps = append(bps, artifacts.Buildpack{ID: bp.ID, Version: bp.Version})
	}
	artifacts.WarnMisplaced(logger, artifacts.FindMisplaced(layersDir, bps))
	decls, err := artifacts.Load(layersDir, bps)
	if err != nil {
		return nil, err
	}
	return buildArtifacts(decls, digests)
}

// buildArtifacts turns validated declarations into artifacts whose files
// use the digest cache (nil for none).
func buildArtifacts(decls []artifacts.Declaration, digests *artifacts.DigestCache) ([]*artifacts.Artifact, error) {
	var out []*artifacts.Artifact
	for _, d := range decls {
		a, err := artifacts.Build(d, artifacts.WithDigestCache(digests))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (e *exportCmd) export(ctx context.Context, group buildpack.Group, arts []*artifacts.Artifact, cacheStore phase.Cache, digests *artifacts.DigestCache) error {
	tmpDir, err := os.MkdirTemp("", "lifecycle.exporter.layer")
	if err != nil {
		return cmd.FailErr(err, "create temp directory")
	}
	defer os.RemoveAll(tmpDir)

	projectMD, err := files.Handler.ReadProjectMetadata(e.ProjectMetadataPath, cmd.DefaultLogger)
	if err != nil {
		return err
	}
	runImageForExport, err := lplatform.GetRunImageForExport(e.Inputs())
	if err != nil {
		return err
	}

	carried, notCarried, err := e.carryArtifacts(ctx, group, arts)
	if err != nil {
		return exitCode(err, e.Platform)
	}
	arts = append(arts, carried...)
	var bps []artifacts.Buildpack
	for _, bp := range group.Group {
		bps = append(bps, artifacts.Buildpack{ID: bp.ID, Version: bp.Version})
	}
	sboms, sbomsSkipped, err := sbomArtifacts(cmd.DefaultLogger, e.settings, sbomInput{layersDir: e.LayersDir, group: bps,
		platformAPI: e.PlatformAPI, launcherSBOMDir: e.LauncherSBOMDir, image: appName(e.OutputImageRef)})
	if err != nil {
		return exitCode(err, e.Platform)
	}
	arts = append(arts, sboms...)
	unpublished := append(notCarried, sbomsSkipped...)

	// Plan before any image work, so a collision fails before a write.
	target, err := e.target(digests)
	if err != nil {
		return err
	}
	if err := target.Plan(arts); err != nil {
		return exitCode(err, e.Platform)
	}

	appImage, runImageID, err := e.initAppImage(e.analyzed)
	if err != nil {
		return err
	}
	if appImage, err = target.Wrap(ctx, appImage); err != nil {
		return cmd.FailErr(err, "plan artifacts")
	}

	exp := &phase.Exporter{
		Buildpacks: group.Group,
		LayerFactory: &layers.Factory{
			ArtifactsDir: tmpDir,
			UID:          e.UID,
			GID:          e.GID,
			Logger:       cmd.DefaultLogger,
			Ctx:          ctx,
		},
		Logger:      cmd.DefaultLogger,
		PlatformAPI: e.PlatformAPI,
	}
	stock, err := exp.Export(phase.ExportOptions{
		AdditionalNames:    e.AdditionalTags,
		AppDir:             e.AppDir,
		DefaultProcessType: e.DefaultProcessType,
		ExecEnv:            e.ExecEnv,
		ExtendedDir:        e.ExtendedDir,
		LauncherConfig:     launcherConfig(e.LauncherPath, e.LauncherSBOMDir),
		LayersDir:          e.LayersDir,
		OrigMetadata:       e.analyzed.LayersMetadata,
		Project:            projectMD,
		RunImageRef:        runImageID,
		RunImageForExport:  runImageForExport,
		WorkingImage:       appImage,
	})
	res, err := target.Finish(ctx, stock.Image, err)
	if err != nil {
		return exitCode(err, e.Platform)
	}

	report := newReport(stock.Build, stock.Image, res, unpublished...)
	logPublished(res)
	if err := platform.WriteReport(e.ReportPath, &report); err != nil {
		return cmd.FailErrCode(err, e.CodeFor(lplatform.ExportError), "write export report")
	}

	// The cache is exported only once the image and its artifacts are
	// committed, with or without -parallel.
	if cacheStore != nil {
		if err := exp.Cache(e.LayersDir, cacheStore); err != nil {
			cmd.DefaultLogger.Warnf("Failed to export cache: %v\n", err)
		}
	}
	return nil
}

// carryArtifacts returns the previous image's artifacts of the launch
// layers this build reuses without writing them, to publish again for the
// new image (docs/spec.md 15.2). It writes nothing. A reused layer whose
// artifacts cannot be carried follows the policy: under required it fails
// the export (exit 64, before any write); under best-effort it is returned
// as a report entry that says why.
func (e *exportCmd) carryArtifacts(ctx context.Context, group buildpack.Group, declared []*artifacts.Artifact) ([]*artifacts.Artifact, []platform.ArtifactReport, error) {
	if !e.settings.artifactsOn() {
		return nil, nil, nil
	}
	var bps []artifacts.Buildpack
	for _, bp := range group.Group {
		bps = append(bps, artifacts.Buildpack{ID: bp.ID, Version: bp.Version})
	}
	reused, err := artifacts.ReusedLayers(e.LayersDir, bps)
	if err != nil || len(reused) == 0 {
		return nil, nil, err
	}
	prev := e.analyzed.PreviousImageRef()
	if prev == "" {
		return nil, nil, nil // no previous image: nothing is reused
	}
	if e.settings.kind != kindRegistry {
		for _, l := range reused {
			cmd.DefaultLogger.Warnf("Buildpack '%s', layer '%s' is reused from the previous image, but its artifacts are not carried: the previous image is not in a registry", l.Buildpack.ID, l.Layer)
		}
		return nil, nil, nil
	}
	var (
		carried []*artifacts.Artifact
		probs   []exporter.CarryProblem
	)
	d, err := e.settings.digest(prev)
	if err != nil {
		for _, l := range reused {
			probs = append(probs, exporter.CarryProblem{Layer: l, Err: fmt.Errorf("the previous image %q is not named by digest", prev)})
		}
	} else if c, err := registry.Dial(ctx, d.Context().Registry, registry.Pull(d.Context()), e.settings.clientOptions(e.keychain)); err != nil {
		for _, l := range reused {
			probs = append(probs, exporter.CarryProblem{Layer: l, Err: err})
		}
	} else if carried, probs, err = exporter.Carry(ctx, c, d, reused, declared); err != nil {
		return nil, nil, err
	}
	if len(probs) == 0 {
		return carried, nil, nil
	}
	if !e.settings.bestEffort() {
		return nil, nil, &carryError{probs: probs}
	}
	var skipped []platform.ArtifactReport
	for _, p := range probs {
		cmd.DefaultLogger.Warnf("%v", p)
		skipped = append(skipped, notCarried(p))
	}
	return carried, skipped, nil
}

// target is where this export puts the app image and its artifacts: the
// settings' target kind, with the settings' transaction options and the
// layers directory's digest cache.
func (e *exportCmd) target(digests *artifacts.DigestCache) (exporter.Target, error) {
	opts := e.settings.txOptions(e.keychain, digests, e.analyzed.PreviousImageRef())
	tmpl := e.settings.TagTemplate
	switch e.settings.kind {
	case kindLayout:
		return exporter.NewLayoutTarget(e.OutputImageRef, tmpl, opts...), nil
	case kindDaemon:
		tag, err := name.NewTag(e.OutputImageRef, name.WeakValidation)
		if err != nil {
			return nil, cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "parse image name")
		}
		return exporter.NewDaemonTarget(e.settings.DaemonRepository, tag.TagStr(), tmpl, opts...), nil
	default:
		// The names exactly as the phase will pass them to SaveAs. The
		// export writes the cache image after the commit, and reads the run
		// image by its tag: an artifact must not take their tags. (The
		// previous image is read by digest, and its tags are the app's
		// names or an image tag that tag ownership refuses: docs/spec.md 5.)
		names := append([]string{e.OutputImageRef}, e.AdditionalTags...)
		reserved := exporter.WithReservedTags(map[string]string{
			"the cache image": e.CacheImageRef,
			"the run image":   e.RunImageRef,
		})
		return exporter.NewRegistryTarget(names, tmpl, append(opts, reserved)...), nil
	}
}
