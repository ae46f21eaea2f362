package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/buildpacks/lifecycle/cmd"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
	"github.com/cnb-artifacts/lifecycle/signing"
)

// targetKind is where a command puts the app image.
type targetKind string

const (
	kindRegistry targetKind = "registry"
	kindLayout   targetKind = "layout"
	kindDaemon   targetKind = "daemon"
)

// settings are the decisions every command takes from its inputs (flags and
// CNB_* environment), made once, in newSettings: export, create, the
// keychain, carry, rebase and reattach read them, and nothing reads the
// environment after it.
type settings struct {
	kind     targetKind
	insecure []string // registries reached without TLS verification
	platform.ArtifactInputs
	// signer is the key of SigningKey, read by loadSigner before
	// privileges drop (signing.go); nil: nothing is signed.
	signer signing.Signer
}

// newSettings decides the settings from lifecycle's resolved inputs (nil
// for reattach, which has none: a registry target), the insecure registries
// and the environment.
func newSettings(in *lplatform.LifecycleInputs, insecure []string, getenv func(string) string) (settings, error) {
	extra, err := platform.ResolveArtifactInputs(getenv)
	if err != nil {
		return settings{}, err
	}
	s := settings{kind: kindRegistry, insecure: insecure, ArtifactInputs: extra}
	switch {
	case in == nil:
	case in.UseLayout:
		s.kind = kindLayout
	case in.UseDaemon:
		s.kind = kindDaemon
	}
	return s, nil
}

// artifactsOn says whether the policy lets the command read or publish
// artifacts at all: under off it reads no artifacts.toml and no referrers,
// and makes no request stock would not.
func (s settings) artifactsOn() bool { return s.Policy != platform.PolicyOff }

// sbomOn says whether the export publishes the buildpacks' SBOMs as
// referrers of the app image: CNB_ARTIFACTS_SBOM=referrers, under a policy
// other than off (off is stock, whatever else is set).
func (s settings) sbomOn() bool { return s.artifactsOn() && s.SBOM == platform.SBOMReferrers }

// bestEffort says whether an artifact that cannot be kept is recorded in
// report.toml rather than failing the command.
func (s settings) bestEffort() bool { return s.Policy == platform.PolicyBestEffort }

// parse parses an image name under the insecure rule (registry.NameOptions),
// as the registry client and the transaction do.
func (s settings) parse(ref string) (name.Reference, error) {
	return name.ParseReference(ref, registry.NameOptions(ref, s.insecure)...)
}

// digest parses an image name by digest under the insecure rule.
func (s settings) digest(ref string) (name.Digest, error) {
	return name.NewDigest(ref, registry.NameOptions(ref, s.insecure)...)
}

// clientOptions are the registry client's options for every read outside
// the transaction (carry, rebase, reattach, name checks): the keychain, and
// the settings' insecure registries and timeout, as the transaction's own.
func (s settings) clientOptions(kc authn.Keychain) registry.Options {
	return registry.Options{Keychain: kc, Insecure: s.insecure, Timeout: s.RegistryTimeout}
}

// txOptions are the options of every export transaction, for every command:
// the one place settings become exporter options. digests may be nil;
// previous is the previous image to compare with (empty for none).
func (s settings) txOptions(kc authn.Keychain, digests *artifacts.DigestCache, previous string) []exporter.Option {
	opts := []exporter.Option{
		exporter.WithKeychain(kc),
		exporter.WithInsecureRegistries(s.insecure),
		exporter.WithLogger(cmd.DefaultLogger),
		exporter.WithTimeout(s.RegistryTimeout),
		exporter.WithOverwriteForeignTags(s.OverwriteForeignTags),
		exporter.WithBestEffort(s.bestEffort()),
	}
	if digests != nil {
		opts = append(opts, exporter.WithDigestCache(digests))
	}
	if s.signer != nil {
		opts = append(opts, exporter.WithSigner(s.signer))
	}
	if previous != "" && s.artifactsOn() {
		opts = append(opts, exporter.WithPreviousImage(previous))
	}
	return opts
}

// insecureFromEnv adds CNB_INSECURE_REGISTRIES to the registries given as
// flags (reattach, which has no lifecycle inputs).
func insecureFromEnv(flags []string, getenv func(string) string) []string {
	out := slices.Clone(flags)
	if env := getenv(lplatform.EnvInsecureRegistries); env != "" {
		out = append(out, strings.Split(env, ",")...)
	}
	return out
}

// notCarried is the report entry of a reused layer whose artifacts could not
// be carried under best-effort.
func notCarried(p exporter.CarryProblem) platform.ArtifactReport {
	return platform.ArtifactReport{
		Buildpack:        p.Layer.Buildpack.ID,
		BuildpackVersion: p.Layer.Buildpack.Version,
		Layer:            p.Layer.Layer,
		Refs:             []string{},
		Skipped:          fmt.Sprintf("not carried: %v", p.Err),
	}
}
