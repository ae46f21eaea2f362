// This file follows upstream's cmd/lifecycle/rebaser.go (lifecycle
// v0.21.17): the rebaser's flags, inputs, privileges and the choice of run
// image are upstream's; Exec differs only where the artifacts are carried
// (docs/spec.md 15.3). Re-sync it when go.mod moves lifecycle.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/buildpacks/imgutil"
	"github.com/buildpacks/imgutil/local"
	"github.com/buildpacks/imgutil/remote"
	"github.com/buildpacks/lifecycle/auth"
	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/cmd/lifecycle/cli"
	"github.com/buildpacks/lifecycle/image"
	"github.com/buildpacks/lifecycle/phase"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/buildpacks/lifecycle/priv"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/client"

	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// rebaseCmd is lifecycle's rebaser, whose rebased image keeps the original
// image's artifacts: they are published again with the rebased image as
// subject, in the export transaction (artifact manifests, their tags, then
// the image's tags last). With no artifacts it is the stock rebaser.
type rebaseCmd struct {
	*lplatform.Platform
	settings settings // decided once from the inputs (settings.go)

	docker   client.APIClient
	keychain authn.Keychain

	appImage imgutil.Image
}

func newRebaseCmd(api string) *rebaseCmd {
	return &rebaseCmd{Platform: lplatform.NewPlatformFor(api)}
}

// DefineFlags defines the stock rebaser's flags for the platform API.
func (r *rebaseCmd) DefineFlags() {
	if r.PlatformAPI.AtLeast("0.13") {
		cli.FlagInsecureRegistries(&r.InsecureRegistries)
	}
	if r.PlatformAPI.AtLeast("0.12") {
		cli.FlagForceRebase(&r.ForceRebase)
	}
	if r.PlatformAPI.AtLeast("0.11") {
		cli.FlagPreviousImage(&r.PreviousImageRef)
	}
	cli.DeprecatedFlagRunImage(&r.DeprecatedRunImageRef)
	cli.FlagGID(&r.GID)
	cli.FlagLogLevel(&r.LogLevel)
	cli.FlagNoColor(&r.NoColor)
	cli.FlagReportPath(&r.ReportPath)
	cli.FlagRunImage(&r.RunImageRef)
	cli.FlagUID(&r.UID)
	cli.FlagUseDaemon(&r.UseDaemon)
}

// Args is upstream's (upstreamArgs), then the artifact inputs.
func (r *rebaseCmd) Args(nargs int, args []string) error {
	if err := r.upstreamArgs(nargs, args); err != nil {
		return err
	}
	var err error
	if r.settings, err = newSettings(r.LifecycleInputs, r.InsecureRegistries, os.Getenv); err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "resolve inputs")
	}
	// Still root (Privileges, upstream's, drops privileges next): the key
	// is read here.
	return r.settings.loadSigner(cmd.DefaultLogger, nil)
}

// upstreamArgs is upstream's Args: it takes the image names, resolves the
// inputs and reads the app image before privileges are dropped.
func (r *rebaseCmd) upstreamArgs(nargs int, args []string) error {
	if nargs == 0 {
		return cmd.FailErrCode(errors.New("at least one image argument is required"), cmd.CodeForInvalidArgs, "parse arguments")
	}
	r.OutputImageRef = args[0]
	r.AdditionalTags = args[1:]
	if err := lplatform.ResolveInputs(lplatform.Rebase, r.LifecycleInputs, cmd.DefaultLogger); err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "resolve inputs")
	}
	var err error
	if !r.UseDaemon {
		// Upstream reads the app image here, so that the keychain includes
		// the run image it names, before privileges are dropped.
		if err = r.setAppImage(); err != nil {
			return cmd.FailErrCode(errors.New(err.Error()), r.CodeFor(lplatform.RebaseError), "set app image")
		}
	}
	return nil
}

// Privileges resolves credentials and the daemon client, then drops to the
// CNB user, as upstream does.
func (r *rebaseCmd) Privileges() error {
	var err error
	r.keychain, err = auth.DefaultKeychain(r.RegistryImages()...)
	if err != nil {
		return cmd.FailErr(err, "resolve keychain")
	}
	if r.UseDaemon {
		var err error
		r.docker, err = priv.DockerClient()
		if err != nil {
			return cmd.FailErr(err, "initialize docker client")
		}
	}
	if err := priv.RunAs(r.UID, r.GID); err != nil {
		return cmd.FailErr(err, fmt.Sprintf("exec as user %d:%d", r.UID, r.GID))
	}
	return nil
}

// Exec rebases; in a registry, the original image's artifacts go with it.
func (r *rebaseCmd) Exec() error {
	var err error
	if r.settings.kind == kindDaemon {
		if err = r.setAppImage(); err != nil {
			return cmd.FailErrCode(errors.New(err.Error()), r.CodeFor(lplatform.RebaseError), "set app image")
		}
	}
	var newBaseImage imgutil.Image
	if r.settings.kind == kindDaemon {
		newBaseImage, err = local.NewImage(r.RunImageRef, r.docker, local.FromBaseImage(r.RunImageRef))
	} else {
		newBaseImage, err = phase.OpenRemoteImage(cmd.DefaultLogger, func() (imgutil.Image, error) {
			opts := append(image.GetInsecureOptions(r.InsecureRegistries), remote.FromBaseImage(r.RunImageRef))
			return remote.NewImage(r.RunImageRef, r.keychain, opts...)
		})
	}
	if err != nil || !newBaseImage.Found() {
		return cmd.FailErr(err, "access run image")
	}

	ctx := context.Background()
	target, err := r.carryArtifacts(ctx)
	if err != nil {
		return err
	}
	working := r.appImage
	if target != nil {
		if working, err = target.Wrap(ctx, r.appImage); err != nil {
			return cmd.FailErr(err, "plan artifacts")
		}
	}
	rebaser := &phase.Rebaser{Logger: cmd.DefaultLogger, PlatformAPI: r.PlatformAPI, Force: r.ForceRebase}
	report, err := rebaser.Rebase(working, newBaseImage, r.OutputImageRef, r.AdditionalTags)
	if target == nil {
		if err != nil {
			return cmd.FailErrCode(err, r.CodeFor(lplatform.RebaseError), "rebase")
		}
		if err = files.Handler.WriteRebaseReport(r.ReportPath, &report); err != nil {
			return cmd.FailErrCode(err, r.CodeFor(lplatform.RebaseError), "write rebase report")
		}
		return nil
	}
	res, err := target.Finish(ctx, report.Image, err)
	if err != nil {
		return rebaseExitCode(err, r.Platform)
	}
	logPublished(res)
	rep := newReport(files.BuildReport{}, report.Image, res)
	if err := platform.WriteReport(r.ReportPath, &rep); err != nil {
		return cmd.FailErrCode(err, r.CodeFor(lplatform.RebaseError), "write rebase report")
	}
	return nil
}

// carryArtifacts finds the artifacts of the image being rebased and returns
// the registry target that publishes them again for the rebased image (its
// Wrap, the rebase's save, its Finish: the export's one path). With none (or
// a daemon image, which holds none, or under policy off, which reads no
// referrers) it returns nil: the stock rebase. An artifact that cannot be
// read fails the rebase rather than being left behind.
func (r *rebaseCmd) carryArtifacts(ctx context.Context) (exporter.Target, error) {
	if r.settings.kind != kindRegistry || !r.settings.artifactsOn() {
		if r.settings.signer != nil {
			cmd.DefaultLogger.Warnf("Not signing: the rebased image is in a Docker daemon, which has no registry digest to sign")
		}
		return nil, nil
	}
	id, err := r.appImage.Identifier()
	if err != nil {
		return nil, cmd.FailErr(err, "get app image identifier")
	}
	from, err := name.NewDigest(id.String(), registry.NameOptions(id.String(), r.InsecureRegistries)...)
	if err != nil {
		return nil, cmd.FailErr(err, "get app image digest")
	}
	arts, err := readArtifacts(ctx, from, r.settings, r.keychain)
	if err != nil {
		return nil, rebaseExitCode(err, r.Platform)
	}
	if len(arts) == 0 && r.settings.signer == nil {
		return nil, nil
	}
	target := exporter.NewRegistryTarget(append([]string{r.OutputImageRef}, r.AdditionalTags...), r.settings.TagTemplate,
		r.settings.txOptions(r.keychain, nil, "")...)
	if err := target.Plan(arts); err != nil {
		return nil, exitCode(err, r.Platform)
	}
	return target, nil
}

// setAppImage reads the image to rebase and, without -run-image, picks the
// run image from its metadata, as upstream does.
func (r *rebaseCmd) setAppImage() error {
	var targetImageRef string
	if len(r.PreviousImageRef) > 0 {
		targetImageRef = r.PreviousImageRef
	} else {
		targetImageRef = r.OutputImageRef
	}
	ref, err := name.ParseReference(targetImageRef, name.WeakValidation)
	if err != nil {
		return err
	}
	registry := ref.Context().RegistryStr()
	if r.UseDaemon {
		r.appImage, err = local.NewImage(
			targetImageRef,
			r.docker,
			local.FromBaseImage(targetImageRef),
		)
	} else {
		var keychain authn.Keychain
		keychain, err = auth.DefaultKeychain(targetImageRef)
		if err != nil {
			return err
		}
		var opts = []imgutil.ImageOption{
			remote.FromBaseImage(targetImageRef),
		}
		opts = append(opts, image.GetInsecureOptions(r.InsecureRegistries)...)
		r.appImage, err = remote.NewImage(
			targetImageRef,
			keychain,
			opts...,
		)
	}
	if err != nil || !r.appImage.Found() {
		return cmd.FailErr(err, "access image to rebase")
	}
	var md files.LayersMetadata
	if err := image.DecodeLabel(r.appImage, lplatform.LifecycleMetadataLabel, &md); err != nil {
		return err
	}
	if r.RunImageRef == "" {
		runImage, err := lplatform.GetRunImageFromMetadata(*r.LifecycleInputs, md)
		if err != nil {
			return cmd.FailErrCode(errors.New("-run-image is required when there is no run image metadata available"), cmd.CodeForInvalidArgs, "parse arguments")
		}
		r.RunImageRef, err = lplatform.BestRunImageMirrorFor(registry, runImage, r.AccessChecker())
		if err != nil {
			return err
		}
	}
	return nil
}
