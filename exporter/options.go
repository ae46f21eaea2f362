package exporter

import (
	"errors"
	"fmt"
	"time"

	"github.com/buildpacks/lifecycle/log"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/registry"
	"github.com/cnb-artifacts/lifecycle/signing"
)

// options are a transaction's settings: the Options applied to the
// defaults once, in any order, then validated once (makeOptions), as
// go-containerregistry's remote.Option are. New and the three targets read
// them; nothing applies an Option again.
type options struct {
	keychain authn.Keychain
	insecure []string
	logger   log.Logger
	jobs     int
	timeout  time.Duration
	// overwriteForeign skips the tag ownership check.
	overwriteForeign bool
	// bestEffort skips artifacts whose manifests a registry refuses.
	bestEffort bool
	// progressEvery is how often a long artifact upload logs.
	progressEvery time.Duration
	reserved      map[string]string
	// previousRef is WithPreviousImage's reference; previous, resolved from
	// it once every option is applied, is the previous image, whose stale
	// artifacts are warned of.
	previousRef string
	previous    *name.Digest
	imageID     string
	created     *time.Time
	cache       *artifacts.DigestCache
	stream      streamPolicy
	// signer signs the app image and every artifact (nil: nothing is signed).
	signer signing.Signer
}

// Option configures a Transaction, or a Target's.
type Option func(*options)

// makeOptions applies opts to the defaults and validates the result.
func makeOptions(opts []Option) (options, error) {
	o := options{keychain: authn.NewMultiKeychain(), logger: log.NewDefaultLogger(discard{}), jobs: 4, timeout: 60 * time.Second,
		stream: streamPolicy{minSize: defaultStreamMinSize}, progressEvery: defaultProgressInterval}
	for _, opt := range opts {
		opt(&o)
	}
	return o, o.validate()
}

// validate checks the options and resolves what depends on several of them.
func (o *options) validate() error {
	var errs []error
	if o.keychain == nil {
		errs = append(errs, errors.New("nil keychain"))
	}
	if o.logger == nil {
		errs = append(errs, errors.New("nil logger"))
	}
	if o.jobs < 1 {
		errs = append(errs, fmt.Errorf("jobs must be at least 1, got %d", o.jobs))
	}
	if o.timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %s", o.timeout))
	}
	if o.stream.minSize < 0 {
		errs = append(errs, fmt.Errorf("stream size must not be negative, got %d", o.stream.minSize))
	}
	if o.progressEvery <= 0 {
		errs = append(errs, fmt.Errorf("progress interval must be positive, got %s", o.progressEvery))
	}
	o.previous = nil
	if o.previousRef != "" {
		if d, err := name.NewDigest(o.previousRef, registry.NameOptions(o.previousRef, o.insecure)...); err == nil {
			o.previous = &d
		}
	}
	return errors.Join(errs...)
}

// WithKeychain sets the credentials; the default is anonymous.
func WithKeychain(kc authn.Keychain) Option {
	return func(o *options) { o.keychain = kc }
}

// WithInsecureRegistries names registries reached without TLS verification.
func WithInsecureRegistries(regs []string) Option {
	return func(o *options) { o.insecure = append([]string(nil), regs...) }
}

// WithLogger sets lifecycle's logger.
func WithLogger(l log.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithJobs bounds the concurrent blob uploads per repository (default 4).
func WithJobs(n int) Option {
	return func(o *options) { o.jobs = n }
}

// WithPreviousImage names the previous image (by digest, as analyzed.toml
// records it): the artifacts published for it that this export does not
// publish again are named in a warning. Any other reference is ignored.
func WithPreviousImage(ref string) Option {
	return func(o *options) { o.previousRef = ref }
}

// WithBestEffort makes an artifact whose manifest a registry refuses for
// good (a permanent 4xx: 400 MANIFEST_INVALID, 415, …) skipped in that
// repository, with a warning quoting the registry, instead of failing the
// export; the app image and the other artifacts are published. Transient
// failures still fail it (CNB_ARTIFACTS_POLICY=best-effort).
func WithBestEffort(bestEffort bool) Option {
	return func(o *options) { o.bestEffort = bestEffort }
}

// WithOverwriteForeignTags lets the transaction move artifact tags that
// hold something no buildpack published; by default such a tag refuses the
// export before any write (Plan.CheckTagOwnership).
func WithOverwriteForeignTags(overwrite bool) Option {
	return func(o *options) { o.overwriteForeign = overwrite }
}

// WithReservedTags names images the export reads or writes besides the app
// image (description to name, an empty name ignored): a registry target's
// plan refuses an artifact tag that one of them has (Plan.CheckReservedTags).
func WithReservedTags(names map[string]string) Option {
	return func(o *options) { o.reserved = names }
}

// WithTimeout bounds how long one request may go without progress, from its
// first byte sent to the last byte of its answer read (default 60s); a
// request that times out is retried like any transient failure.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithImageID annotates every artifact manifest with the app image's ID; for
// a Commit without an app image (daemon exports).
func WithImageID(id string) Option {
	return func(o *options) { o.imageID = id }
}

// WithCreated sets the artifacts' creation time for a Commit without an app
// image; with one, the app image's creation time is used.
func WithCreated(c time.Time) Option {
	return func(o *options) { o.created = &c }
}

// WithDigestCache names the digest cache the artifacts were built with, so
// that the transaction can warn when its file was ignored. The caller saves
// it.
func WithDigestCache(c *artifacts.DigestCache) Option {
	return func(o *options) { o.cache = c }
}

// WithStreamMinSize sets the size from which an artifact file whose digest
// is unknown is hashed while it is uploaded rather than before (default
// 64 MiB).
func WithStreamMinSize(n int64) Option {
	return func(o *options) { o.stream.minSize = n }
}

// WithProgressInterval sets how often a long artifact upload logs where it
// is (default 5s).
func WithProgressInterval(d time.Duration) Option {
	return func(o *options) { o.progressEvery = d }
}

// WithSigner signs the app image and every artifact manifest the export
// writes (docs/spec.md section 17): each signature is a referrer of what it
// signs, written after it and indexed before any tag naming it moves. A
// signing failure fails the export before any tag moves. The default, nil,
// signs nothing.
func WithSigner(s signing.Signer) Option {
	return func(o *options) { o.signer = s }
}
