// This file follows upstream's cmd/lifecycle/exporter.go (lifecycle
// v0.21.17): how the exporter makes its working image for each target, the
// run image's identifier, the launcher config, and initCache from
// cmd/lifecycle/main.go. Re-sync it when go.mod moves lifecycle.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/buildpacks/imgutil"
	"github.com/buildpacks/imgutil/layout"
	"github.com/buildpacks/imgutil/local"
	"github.com/buildpacks/imgutil/remote"
	"github.com/buildpacks/lifecycle/buildpack"
	"github.com/buildpacks/lifecycle/cache"
	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/image"
	"github.com/buildpacks/lifecycle/phase"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/platform"
)

// initAppImage makes the working image for the target the platform chose,
// with the options lifecycle's exporter uses, and returns the run image's
// identifier.
func (e *exportCmd) initAppImage() (imgutil.Image, string, error) {
	switch {
	case e.UseLayout:
		return e.initLayoutImage()
	case e.UseDaemon:
		return e.initDaemonImage()
	default:
		return e.initRemoteImage()
	}
}

func (e *exportCmd) initRemoteImage() (imgutil.Image, string, error) {
	opts := []imgutil.ImageOption{remote.FromBaseImage(e.RunImageRef)}
	if e.supportsRunImageExtension() {
		cfg, err := e.extendedConfig()
		if err != nil {
			return nil, "", cmd.FailErr(err, "get extended image config")
		}
		if cfg != nil {
			cmd.DefaultLogger.Debugf("Using config from extensions...")
			opts = append(opts, remote.WithConfig(cfg))
		}
	}
	if e.PlatformAPI.AtLeast("0.12") {
		opts = append(opts, remote.WithHistory())
	}
	opts = append(opts, image.GetInsecureOptions(e.InsecureRegistries)...)
	if prev := e.analyzed.PreviousImageRef(); prev != "" {
		cmd.DefaultLogger.Infof("Reusing layers from image '%s'", prev)
		opts = append(opts, remote.WithPreviousImage(prev))
	}
	if t := e.sourceDateEpoch(); !t.IsZero() {
		opts = append(opts, remote.WithCreatedAt(t))
	}
	app, err := phase.OpenRemoteImage(cmd.DefaultLogger, func() (imgutil.Image, error) {
		return remote.NewImage(e.OutputImageRef, e.keychain, opts...)
	})
	if err != nil {
		return nil, "", cmd.FailErr(err, "create new app image")
	}
	runID, err := remoteRunImageID(e.RunImageRef, e.keychain, e.InsecureRegistries)
	if err != nil {
		return nil, "", cmd.FailErr(err, "get run image ID")
	}
	return app, runID, nil
}

func remoteRunImageID(ref string, kc authn.Keychain, insecure []string) (string, error) {
	run, err := remote.NewImage(ref, kc, append(image.GetInsecureOptions(insecure), remote.FromBaseImage(ref))...)
	if err != nil {
		return "", fmt.Errorf("failed to access run image: %w", err)
	}
	id, err := run.Identifier()
	if err != nil {
		return "", fmt.Errorf("failed to get run image identifier: %w", err)
	}
	return id.String(), nil
}

func (e *exportCmd) initDaemonImage() (imgutil.Image, string, error) {
	opts := []imgutil.ImageOption{local.FromBaseImage(e.RunImageRef)}
	if e.supportsRunImageExtension() {
		cfg, err := e.extendedConfig()
		if err != nil {
			return nil, "", cmd.FailErr(err, "get extended image config")
		}
		if cfg != nil {
			opts = append(opts, local.WithConfig(cfg))
		}
	}
	if e.PlatformAPI.AtLeast("0.12") {
		opts = append(opts, local.WithHistory())
	}
	if prev := e.analyzed.PreviousImageRef(); prev != "" {
		cmd.DefaultLogger.Debugf("Reusing layers from image with id '%s'", prev)
		opts = append(opts, local.WithPreviousImage(prev))
	}
	if t := e.sourceDateEpoch(); !t.IsZero() {
		opts = append(opts, local.WithCreatedAt(t))
	}
	var app imgutil.Image
	app, err := local.NewImage(e.OutputImageRef, e.docker, opts...)
	if err != nil {
		return nil, "", cmd.FailErr(err, " image")
	}
	runID, err := app.Identifier()
	if err != nil {
		return nil, "", cmd.FailErr(err, "get run image ID")
	}
	if e.LaunchCacheDir != "" {
		vc, err := cache.NewVolumeCache(e.LaunchCacheDir, cmd.DefaultLogger)
		if err != nil {
			return nil, "", cmd.FailErr(err, "create launch cache")
		}
		app = cache.NewCachingImage(app, vc)
	}
	return app, runID.String(), nil
}

func (e *exportCmd) initLayoutImage() (imgutil.Image, string, error) {
	runID, err := layout.ParseIdentifier(e.analyzed.RunImage.Reference)
	if err != nil {
		return nil, "", cmd.FailErr(err, "parsing run image reference")
	}
	opts := []imgutil.ImageOption{layout.FromBaseImagePath(runID.Path)}
	if e.PlatformAPI.AtLeast("0.12") {
		opts = append(opts, layout.WithHistory())
	}
	if prev := e.analyzed.PreviousImageRef(); prev != "" {
		prevID, err := layout.ParseIdentifier(prev)
		if err != nil {
			return nil, "", cmd.FailErr(err, "parsing previous image reference")
		}
		cmd.DefaultLogger.Infof("Reusing layers from image '%s'", prevID.Path)
		opts = append(opts, layout.WithPreviousImage(prevID.Path))
	}
	if t := e.sourceDateEpoch(); !t.IsZero() {
		opts = append(opts, layout.WithCreatedAt(t))
	}
	refPath, err := layout.ParseRefToPath(e.OutputImageRef)
	if err != nil {
		return nil, "", cmd.FailErr(err, "parsing output image reference")
	}
	appPath := filepath.Join(e.LayoutDir, refPath)
	cmd.DefaultLogger.Infof("Using app image: %s\n", appPath)
	app, err := layout.NewImage(appPath, opts...)
	if err != nil {
		return nil, "", cmd.FailErr(err, "create new app image")
	}
	ref, err := name.ParseReference(e.OutputImageRef, name.WeakValidation)
	if err != nil {
		return nil, "", err
	}
	if err := app.AnnotateRefName(ref.Identifier()); err != nil {
		return nil, "", err
	}
	run, err := layout.NewImage(runID.Path)
	if err != nil {
		return nil, "", cmd.FailErr(err, "access run image")
	}
	id, err := run.Identifier()
	if err != nil {
		return nil, "", cmd.FailErr(err, "get run image reference")
	}
	return app, id.String(), nil
}

// launcherConfig describes the launcher, which is upstream's binary: its
// metadata carries the upstream version, as the stock exporter stamps it.
func launcherConfig(path, sbomDir string) phase.LauncherConfig {
	return phase.LauncherConfig{
		Path:    path,
		SBOMDir: sbomDir,
		Metadata: files.LauncherMetadata{
			Version: platform.UpstreamVersion(),
			Source: files.SourceMetadata{Git: files.GitMetadata{
				Repository: cmd.SCMRepository,
				Commit:     cmd.SCMCommit,
			}},
		},
	}
}

// sourceDateEpoch is SOURCE_DATE_EPOCH for platform API 0.9 and later.
func (e *exportCmd) sourceDateEpoch() time.Time {
	if e.PlatformAPI.LessThan("0.9") {
		return time.Time{}
	}
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}
	}
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		cmd.DefaultLogger.Warn("Ignoring invalid SOURCE_DATE_EPOCH")
		return time.Time{}
	}
	return time.Unix(secs, 0)
}

func (e *exportCmd) supportsRunImageExtension() bool {
	return e.PlatformAPI.AtLeast("0.12") && !e.UseLayout
}

// extendedConfig is the run image config that extensions produced, if any.
func (e *exportCmd) extendedConfig() (*v1.Config, error) {
	run := e.analyzed.RunImage
	if run == nil {
		return nil, errors.New("missing analyzed run image")
	}
	if !run.Extend {
		return nil, nil
	}
	img, _, err := image.FromLayoutPath(filepath.Join(e.ExtendedDir, "run"))
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, errors.New("missing extended run image")
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if cf == nil {
		return nil, errors.New("missing extended run image config")
	}
	return &cf.Config, nil
}

func (e *exportCmd) hasExtendedLayers() bool {
	if e.ExtendedDir == "" {
		return false
	}
	entries, err := os.ReadDir(filepath.Join(e.ExtendedDir, "run"))
	return err == nil && len(entries) > 0
}

func verifyBuildpackAPIs(group buildpack.Group) error {
	for _, bp := range group.Group {
		if err := cmd.VerifyBuildpackAPI(buildpack.KindBuildpack, bp.String(), bp.API, cmd.DefaultLogger); err != nil {
			return err
		}
	}
	return nil
}

// initCache opens the cache image or directory the platform named, if any.
func initCache(imageRef, dir string, kc authn.Keychain, deletionEnabled bool, insecureRegistries ...string) (phase.Cache, error) {
	logger := cmd.DefaultLogger
	switch {
	case imageRef != "":
		c, err := cache.NewImageCacheFromName(imageRef, kc, logger, cache.NewImageDeleter(cache.NewImageComparer(), logger, deletionEnabled), insecureRegistries...)
		if err != nil {
			return nil, cmd.FailErr(err, "create image cache")
		}
		return c, nil
	case dir != "":
		c, err := cache.NewVolumeCache(dir, logger)
		if err != nil {
			return nil, cmd.FailErr(err, "create volume cache")
		}
		return c, nil
	}
	return nil, nil
}
