package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/buildpacks/lifecycle/api"
	"github.com/buildpacks/lifecycle/auth"
	"github.com/buildpacks/lifecycle/cmd"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// reattach publishes the artifacts of one image again for another: after
// `pack rebase` or a kpack rebase (both run lifecycle's rebase in their own
// process, so no rebaser of ours runs), the rebased image has a new digest
// and no referrers. It goes through the export transaction (docs/spec.md
// 15.3): artifact manifests with the new image as subject, their tags, then
// the image's own tags, which already name it.
//
//	lifecycle-artifacts reattach -from <image>@sha256:<old> [-report FILE] <image> [<image> ...]
func reattach(args []string) error {
	fs := flag.NewFlagSet("reattach", flag.ContinueOnError)
	from := fs.String("from", "", "the image whose artifacts to re-attach, by digest (<repository>@sha256:…)")
	reportPath := fs.String("report", "", "where to write report.toml (none by default)")
	logLevel := fs.String("log-level", cmd.EnvOrDefault(lplatform.EnvLogLevel, lplatform.DefaultLogLevel), "logging level")
	var insecure stringList
	fs.Var(&insecure, "insecure-registry", "a registry reached without TLS verification (repeatable; also CNB_INSECURE_REGISTRIES)")
	if err := fs.Parse(args); err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "parse arguments")
	}
	if err := cmd.DefaultLogger.SetLevel(*logLevel); err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "parse arguments")
	}
	if *from == "" || fs.NArg() == 0 {
		return cmd.FailErrCode(errors.New("usage: reattach -from <image>@sha256:<digest> <image> [<image> ...]"), cmd.CodeForInvalidArgs, "parse arguments")
	}
	s, err := newSettings(nil, insecureFromEnv(insecure, os.Getenv), os.Getenv)
	if err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "resolve inputs")
	}
	old, err := s.digest(*from)
	if err != nil {
		return cmd.FailErrCode(fmt.Errorf("-from %q: %w (name the image by digest)", *from, err), cmd.CodeForInvalidArgs, "parse arguments")
	}
	keychain, err := auth.DefaultKeychain(append([]string{*from}, fs.Args()...)...)
	if err != nil {
		return cmd.FailErr(err, "resolve keychain")
	}
	// reattach is not a phase: no platform API is needed. The exit codes are
	// those of the newest one, which every supported API shares.
	p := lplatform.NewPlatformFor(cmd.EnvOrDefault(lplatform.EnvPlatformAPI, api.Platform.Latest().String()))
	ctx := context.Background()

	if !s.artifactsOn() {
		cmd.DefaultLogger.Infof("%s=%s: no artifacts are re-attached", platform.EnvPolicy, platform.PolicyOff)
		return nil
	}
	if err := s.loadSigner(cmd.DefaultLogger, nil); err != nil {
		return err
	}
	clientOpts := s.clientOptions(keychain)
	newRef, err := s.parse(fs.Arg(0))
	if err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "parse image name")
	}
	img, err := readImage(ctx, newRef, clientOpts)
	if err != nil {
		return exitCode(fmt.Errorf("reading %s: %w", newRef.Name(), err), p)
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		return exitCode(err, p)
	}
	// Every name is resolved before anything is read or written: one that
	// names another image is refused.
	head := func(ctx context.Context, ref name.Reference) (string, error) { return headDigest(ctx, ref, clientOpts) }
	if err := checkNames(ctx, fs.Args(), desc.Digest.String(), s, head); err != nil {
		return exitCode(err, p)
	}
	arts, err := readArtifacts(ctx, old, s, keychain)
	if err != nil {
		return exitCode(err, p)
	}
	if desc.Digest.String() == old.DigestStr() {
		cmd.DefaultLogger.Infof("%s is %s: its artifacts are attached already", newRef.Name(), old.Name())
	}
	cmd.DefaultLogger.Infof("Re-attaching %d artifact(s) of %s to %s@%s", len(arts), old.Name(), newRef.Context().Name(), desc.Digest)
	exporter.LogAdding(cmd.DefaultLogger, arts)

	plan, err := exporter.NewPlan(fs.Args(), arts, s.TagTemplate, s.insecure)
	if err != nil {
		return exitCode(err, p)
	}
	tx, err := exporter.New(plan, s.txOptions(keychain, nil, "")...)
	if err != nil {
		return exitCode(err, p)
	}
	res, err := tx.Commit(ctx, img)
	if err != nil {
		return exitCode(err, p)
	}
	logPublished(res)
	if *reportPath == "" {
		return nil
	}
	report := newReport(files.BuildReport{}, files.ImageReport{Tags: fs.Args(), Digest: desc.Digest.String(), ManifestSize: desc.Size}, res)
	if err := platform.WriteReport(*reportPath, &report); err != nil {
		return cmd.FailErrCode(err, p.CodeFor(lplatform.ExportError), "write report")
	}
	return nil
}

// readImage reads the image ref through the registry client.
func readImage(ctx context.Context, ref name.Reference, o registry.Options) (v1.Image, error) {
	c, err := registry.Dial(ctx, ref.Context().Registry, registry.Pull(ref.Context()), o)
	if err != nil {
		return nil, err
	}
	return c.Image(ctx, ref.Context(), ref.Identifier())
}

// readArtifacts reads the artifacts published for the image from, through
// the registry client (exporter.ArtifactsOf). When from was signed by
// this lifecycle and s has no key, it warns that what is published again
// is not signed.
func readArtifacts(ctx context.Context, from name.Digest, s settings, kc authn.Keychain) ([]*artifacts.Artifact, error) {
	c, err := registry.Dial(ctx, from.Context().Registry, registry.Pull(from.Context()), s.clientOptions(kc))
	if err != nil {
		return nil, &readArtifactsError{err}
	}
	arts, signed, err := exporter.ArtifactsOf(ctx, c, from)
	if err != nil {
		return nil, &readArtifactsError{err}
	}
	if signed && s.signer == nil {
		exporter.WarnUnsigned(cmd.DefaultLogger, from.Name())
	}
	return arts, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
