package exporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/buildpacks/lifecycle/log"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// Transaction publishes one app image and its artifacts.
type Transaction struct {
	plan     *Plan
	keychain authn.Keychain
	insecure []string
	logger   log.Logger
	jobs     int
	timeout  time.Duration
	imageID  string
	created  *time.Time
	cache    *artifacts.DigestCache
	stream   streamPolicy
}

// Option configures a Transaction.
type Option func(*Transaction) error

// WithKeychain sets the credentials; the default is anonymous.
func WithKeychain(kc authn.Keychain) Option {
	return func(t *Transaction) error {
		if kc == nil {
			return errors.New("nil keychain")
		}
		t.keychain = kc
		return nil
	}
}

// WithInsecureRegistries names registries reached without TLS verification.
func WithInsecureRegistries(regs []string) Option {
	return func(t *Transaction) error {
		t.insecure = append([]string(nil), regs...)
		return nil
	}
}

// WithLogger sets lifecycle's logger.
func WithLogger(l log.Logger) Option {
	return func(t *Transaction) error {
		if l == nil {
			return errors.New("nil logger")
		}
		t.logger = l
		return nil
	}
}

// WithJobs bounds the concurrent blob uploads per repository (default 4).
func WithJobs(n int) Option {
	return func(t *Transaction) error {
		if n < 1 {
			return fmt.Errorf("jobs must be at least 1, got %d", n)
		}
		t.jobs = n
		return nil
	}
}

// WithTimeout bounds how long one request may go without progress, from its
// first byte sent to the last byte of its answer read (default 60s); a
// request that times out is retried like any transient failure.
func WithTimeout(d time.Duration) Option {
	return func(t *Transaction) error {
		if d <= 0 {
			return fmt.Errorf("timeout must be positive, got %s", d)
		}
		t.timeout = d
		return nil
	}
}

// WithImageID annotates every artifact manifest with the app image's ID; for
// a Commit without an app image (daemon exports).
func WithImageID(id string) Option {
	return func(t *Transaction) error {
		t.imageID = id
		return nil
	}
}

// WithCreated sets the artifacts' creation time for a Commit without an app
// image; with one, the app image's creation time is used.
func WithCreated(c time.Time) Option {
	return func(t *Transaction) error {
		t.created = &c
		return nil
	}
}

// WithDigestCache names the digest cache the artifacts were built with, so
// that the transaction can warn when its file was ignored. The caller saves
// it.
func WithDigestCache(c *artifacts.DigestCache) Option {
	return func(t *Transaction) error {
		t.cache = c
		return nil
	}
}

// WithStreamMinSize sets the size from which an artifact file whose digest
// is unknown is hashed while it is uploaded rather than before (default
// 64 MiB).
func WithStreamMinSize(n int64) Option {
	return func(t *Transaction) error {
		if n < 0 {
			return fmt.Errorf("stream size must not be negative, got %d", n)
		}
		t.stream.minSize = n
		return nil
	}
}

// New returns the transaction for plan.
func New(plan *Plan, opts ...Option) (*Transaction, error) {
	if plan == nil {
		return nil, errors.New("nil plan")
	}
	t := &Transaction{plan: plan, keychain: authn.NewMultiKeychain(), logger: log.NewDefaultLogger(discard{}), jobs: 4, timeout: 60 * time.Second,
		stream: streamPolicy{minSize: defaultStreamMinSize}}
	for _, o := range opts {
		if err := o(t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Stage is a step of the transaction.
type Stage string

const (
	StageBlobs     Stage = "blobs"
	StageManifests Stage = "manifests"
	StageTags      Stage = "tags"
)

// CommitError is a failed commit. Before StageTags no tag has moved; in
// StageTags, Moved lists the tags that did, in the order they moved, and
// NotMoved the rest.
type CommitError struct {
	Stage    Stage
	Moved    []string
	NotMoved []string
	Err      error
}

func (e *CommitError) Error() string {
	if e.Stage != StageTags {
		return fmt.Sprintf("export failed while writing %s; no tag was moved: %v", e.Stage, e.Err)
	}
	return fmt.Sprintf("export failed while moving tags: %v; moved: [%s]; not moved: [%s]",
		e.Err, strings.Join(e.Moved, ", "), strings.Join(e.NotMoved, ", "))
}

func (e *CommitError) Unwrap() error { return e.Err }

// Result is a committed export.
type Result struct {
	Subject   v1.Descriptor // the app image manifest
	Artifacts []Published
	Moved     []string // every tag moved, in order; the primary image tag is last
}

// Published is one artifact as written.
type Published struct {
	Artifact *artifacts.Artifact
	Manifest artifacts.Manifest
	// Refs holds "repository:tag@digest", one per repository.
	Refs []string
}

// Commit writes img (the finished app image) and every artifact of the plan,
// with img as their subject. With a nil img it writes the artifacts alone,
// without a subject (an app image that is not in a registry).
func (t *Transaction) Commit(ctx context.Context, img v1.Image) (*Result, error) {
	var subject *v1.Descriptor
	created := time.Time{}
	res := &Result{}
	if img != nil {
		d, err := partial.Descriptor(img)
		if err != nil {
			return nil, fmt.Errorf("describe app image: %w", err)
		}
		subject = &v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}
		res.Subject = *subject
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read app image config: %w", err)
		}
		created = cf.Created.Time
	} else if t.created != nil {
		created = *t.created
	}
	var opts []artifacts.ManifestOption
	if t.imageID != "" {
		opts = append(opts, artifacts.WithImageID(t.imageID))
	}

	regs, err := t.dialAll(ctx)
	if err != nil {
		return nil, &CommitError{Stage: StageBlobs, Err: err}
	}
	// Artifact files are hashed while they are uploaded (or not read at all
	// when the digest cache knows them), so their manifests are built after
	// the blobs are up.
	err = t.pushBlobs(ctx, regs, img)
	warnDigestCache(t.logger, t.cache)
	if errors.Is(err, artifacts.ErrFile) {
		// A file of a layer directory, not the registry, failed.
		return nil, err
	}
	if err != nil {
		return nil, &CommitError{Stage: StageBlobs, Err: err}
	}
	for i, a := range t.plan.artifacts {
		m, err := a.Manifest(subject, created, opts...)
		if err != nil {
			return nil, fmt.Errorf("build manifest of artifact %q: %w", a.Tag, err)
		}
		t.logger.Debugf("Artifact '%s' manifest %s:\n%s", a.Tag, m.Descriptor.Digest, m.Raw)
		p := Published{Artifact: a, Manifest: m}
		for _, tag := range t.plan.PublishedTags(i) {
			p.Refs = append(p.Refs, tag.Name()+"@"+m.Descriptor.Digest.String())
		}
		res.Artifacts = append(res.Artifacts, p)
	}
	noReferrers, err := t.pushManifests(ctx, regs, img, res)
	if err != nil {
		return nil, &CommitError{Stage: StageManifests, Err: err}
	}
	moved, err := t.moveTags(ctx, regs, img, res, noReferrers)
	res.Moved = moved
	if err != nil {
		return res, err
	}
	return res, nil
}

// dialAll authenticates once per registry.
func (t *Transaction) dialAll(ctx context.Context) (map[string]*registry, error) {
	byReg := map[string][]name.Repository{}
	var order []name.Registry
	for _, tg := range t.plan.targets {
		key := tg.repo.RegistryStr()
		if _, ok := byReg[key]; !ok {
			order = append(order, tg.repo.Registry)
		}
		byReg[key] = append(byReg[key], tg.repo)
	}
	regs := map[string]*registry{}
	for _, reg := range order {
		r, err := dial(ctx, reg, byReg[reg.RegistryStr()], t.keychain, contains(t.insecure, reg.RegistryStr()), t.jobs, t.timeout)
		if err != nil {
			return nil, err
		}
		regs[reg.RegistryStr()] = r
	}
	return regs, nil
}

// pushBlobs uploads every blob to every repository: registries in parallel;
// within a registry the first repository uploads and the others mount from it.
func (t *Transaction) pushBlobs(ctx context.Context, regs map[string]*registry, img v1.Image) error {
	blobs, err := t.blobs(img)
	if err != nil {
		return err
	}
	firstRepo := map[string]name.Repository{}
	var perRegistry = map[string][]*target{}
	var order []string
	for _, tg := range t.plan.targets {
		key := tg.repo.RegistryStr()
		if _, ok := firstRepo[key]; !ok {
			firstRepo[key] = tg.repo
			order = append(order, key)
		}
		perRegistry[key] = append(perRegistry[key], tg)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, key := range order {
		reg, targets := regs[key], perRegistry[key]
		g.Go(func() error {
			for i, tg := range targets {
				ls := blobs
				if i > 0 {
					ls = mountable(blobs, firstRepo[key])
				}
				ug, uctx := errgroup.WithContext(gctx)
				ug.SetLimit(t.jobs)
				for _, l := range ls {
					ug.Go(func() error {
						if err := reg.uploadBlob(uctx, tg.repo, l); err != nil {
							return fmt.Errorf("registry %s: upload blob %s to %s: %w", key, blobName(l), tg.repo.RepositoryStr(), err)
						}
						return nil
					})
				}
				if err := ug.Wait(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// blobName is a blob's digest, or "(streamed)" while it is not known.
func blobName(l v1.Layer) string {
	if d, err := l.Digest(); err == nil {
		return d.String()
	}
	return "(streamed)"
}

// blobs lists the app image's layers and config, then every artifact's. An
// artifact's file blobs are streamed: a file whose digest is not known yet is
// hashed as it is uploaded, in one read.
func (t *Transaction) blobs(img v1.Image) ([]v1.Layer, error) {
	var out []v1.Layer
	if img != nil {
		ls, err := img.Layers()
		if err != nil {
			return nil, fmt.Errorf("app image layers: %w", err)
		}
		if len(ls) == 0 {
			return nil, errors.New("app image has no layers")
		}
		cl, err := partial.ConfigLayer(img)
		if err != nil {
			return nil, fmt.Errorf("app image config: %w", err)
		}
		out = append(append(out, ls...), cl)
	}
	for _, a := range t.plan.artifacts {
		c, err := a.Config()
		if err != nil {
			return nil, fmt.Errorf("artifact %q config: %w", a.Tag, err)
		}
		out = append(out, t.stream.layer(c))
		al, err := a.Layers()
		if err != nil {
			return nil, fmt.Errorf("artifact %q layers: %w", a.Tag, err)
		}
		for _, l := range al {
			out = append(out, t.stream.layer(l))
		}
	}
	return distinct(out), nil
}

// distinct drops blobs whose digest is known and already listed: artifacts
// often share a config (`{}`, the empty descriptor) or a file.
func distinct(ls []v1.Layer) []v1.Layer {
	seen := map[v1.Hash]bool{}
	var out []v1.Layer
	for _, l := range ls {
		if d, err := l.Digest(); err == nil {
			if seen[d] {
				continue
			}
			seen[d] = true
		}
		out = append(out, l)
	}
	return out
}

// mountable marks blobs as mountable from repo, keeping a source they
// already have (a run image layer mounts from the run image).
func mountable(ls []v1.Layer, from name.Repository) []v1.Layer {
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		if _, ok := l.(*remote.MountableLayer); ok {
			out[i] = l
			continue
		}
		d, err := l.Digest()
		if err != nil {
			out[i] = l
			continue
		}
		out[i] = &remote.MountableLayer{Layer: l, Reference: from.Digest(d.String())}
	}
	return out
}

// pushManifests writes the app manifest and every artifact manifest by digest
// in every repository. It returns the repositories whose registry does not
// serve the referrers API.
//
// A registry that serves the referrers API updates its list of a subject's
// referrers on every manifest write, and some (olareg) lose entries when two
// such writes race. So where the registry indexes referrers, a repository's
// artifact manifests are written one at a time; elsewhere (the fallback
// index is ours, written once in the tag step) they go concurrently.
func (t *Transaction) pushManifests(ctx context.Context, regs map[string]*registry, img v1.Image, res *Result) (map[string]bool, error) {
	var raw []byte
	if img != nil {
		var err error
		if raw, err = img.RawManifest(); err != nil {
			return nil, err
		}
	}
	noReferrers := map[string]bool{}
	for _, tg := range t.plan.targets {
		reg := regs[tg.repo.RegistryStr()]
		put := func(ctx context.Context, p Published) (http.Header, error) {
			return reg.putManifest(ctx, tg.repo, p.Manifest.Descriptor.Digest.String(), p.Manifest.Descriptor.MediaType, p.Manifest.Raw)
		}
		if raw == nil {
			// No subject: nothing is indexed, and no app manifest to write.
			if err := t.concurrently(ctx, res.Artifacts, put); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := reg.putManifest(ctx, tg.repo, res.Subject.Digest.String(), res.Subject.MediaType, raw); err != nil {
			return nil, err
		}
		if len(res.Artifacts) == 0 {
			continue
		}
		// The first artifact manifest tells whether the registry indexes
		// referrers: an OCI-Subject header, or else (as oras-go does) the
		// referrers API's own answer.
		hdr, err := put(ctx, res.Artifacts[0])
		if err != nil {
			return nil, err
		}
		indexed := hdr.Get("OCI-Subject") != ""
		if !indexed {
			if indexed, err = reg.supportsReferrers(ctx, tg.repo, res.Subject.Digest); err != nil {
				return nil, err
			}
		}
		rest := res.Artifacts[1:]
		if indexed {
			for _, p := range rest {
				if _, err := put(ctx, p); err != nil {
					return nil, err
				}
			}
			continue
		}
		noReferrers[tg.repo.Name()] = true
		if err := t.concurrently(ctx, rest, put); err != nil {
			return nil, err
		}
	}
	return noReferrers, nil
}

// concurrently writes the artifact manifests with put, at most t.jobs at a
// time, and returns the first error.
func (t *Transaction) concurrently(ctx context.Context, ps []Published, put func(context.Context, Published) (http.Header, error)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.jobs)
	for _, p := range ps {
		g.Go(func() error {
			_, err := put(gctx, p)
			return err
		})
	}
	return g.Wait()
}

// move is one tag to move. Moves of one group marked serial run one after
// the other, in order; other moves of a wave run concurrently.
type move struct {
	ref    string
	serial bool
	group  string
	do     func() error
}

// moveTags moves every tag in waves: the artifacts' tags, then the referrers
// fallback indexes, then the app image's additional names, and last its
// primary name. The moves of one wave run concurrently; a wave starts only
// when every move of the one before succeeded, so a failure leaves the
// primary tag where it was.
func (t *Transaction) moveTags(ctx context.Context, regs map[string]*registry, img v1.Image, res *Result, noReferrers map[string]bool) ([]string, error) {
	var raw []byte
	if img != nil {
		var err error
		if raw, err = img.RawManifest(); err != nil {
			return nil, &CommitError{Stage: StageTags, Err: err}
		}
	}
	var artifactTags, fallbacks, additional, primary []move
	for _, tg := range t.plan.targets {
		reg := regs[tg.repo.RegistryStr()]
		// Where the registry indexes referrers, a repository's artifact
		// tags move one after the other, as its manifests were written.
		serial := res.Subject.Digest != (v1.Hash{}) && !noReferrers[tg.repo.Name()]
		for i, p := range res.Artifacts {
			tag := tg.artifactTags[i]
			artifactTags = append(artifactTags, move{ref: tag.Name(), serial: serial, group: tg.repo.Name(), do: func() error {
				_, err := reg.putManifest(ctx, tg.repo, tag.TagStr(), p.Manifest.Descriptor.MediaType, p.Manifest.Raw)
				return err
			}})
		}
		if noReferrers[tg.repo.Name()] {
			ft := fallbackTagFor(res.Subject.Digest)
			fallbacks = append(fallbacks, move{ref: tg.repo.Tag(ft).Name(), do: func() error {
				existing, err := reg.getIndex(ctx, tg.repo, ft)
				if err != nil {
					return err
				}
				var add []v1.Descriptor
				for _, p := range res.Artifacts {
					add = append(add, p.Manifest.Descriptor)
				}
				b, err := mergeReferrers(existing, add)
				if err != nil {
					return err
				}
				_, err = reg.putManifest(ctx, tg.repo, ft, "application/vnd.oci.image.index.v1+json", b)
				return err
			}})
		}
	}
	for k, n := range t.plan.names {
		reg := regs[n.RegistryStr()]
		m := move{ref: n.Name(), do: func() error {
			_, err := reg.putManifest(ctx, n.Context(), n.TagStr(), res.Subject.MediaType, raw)
			return err
		}}
		if k == 0 {
			primary = append(primary, m)
		} else {
			additional = append(additional, m)
		}
	}

	waves := [][]move{artifactTags, fallbacks, additional, primary}
	var moved []string
	for w, wave := range waves {
		done, err := t.runWave(wave)
		moved = append(moved, done...)
		if err != nil {
			var rest []string
			for _, m := range wave {
				if !slices.Contains(done, m.ref) {
					rest = append(rest, m.ref)
				}
			}
			for _, later := range waves[w+1:] {
				for _, m := range later {
					rest = append(rest, m.ref)
				}
			}
			return moved, &CommitError{Stage: StageTags, Moved: moved, NotMoved: rest, Err: err}
		}
	}
	return moved, nil
}

// runWave runs the moves, at most t.jobs at a time (a serial group counts as
// one, and stops at its first failure), and returns those that succeeded, in
// the wave's order, and the first error.
func (t *Transaction) runWave(wave []move) ([]string, error) {
	ok := make([]bool, len(wave))
	errs := make([]error, len(wave))
	var chains [][]int // indexes into wave, each chain run in order
	serial := map[string]int{}
	for i, m := range wave {
		if !m.serial {
			chains = append(chains, []int{i})
			continue
		}
		c, seen := serial[m.group]
		if !seen {
			c = len(chains)
			serial[m.group] = c
			chains = append(chains, nil)
		}
		chains[c] = append(chains[c], i)
	}
	var g errgroup.Group
	g.SetLimit(t.jobs)
	for _, chain := range chains {
		g.Go(func() error {
			for _, i := range chain {
				errs[i] = wave[i].do()
				ok[i] = errs[i] == nil
				if !ok[i] {
					return nil
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	var done []string
	for i, m := range wave {
		if ok[i] {
			done = append(done, m.ref)
		}
	}
	for _, err := range errs {
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// warnDigestCache warns when the digest cache's file was ignored.
func warnDigestCache(logger log.Logger, c *artifacts.DigestCache) {
	if p := c.Problem(); p != nil {
		logger.Warnf("Ignored the artifacts digest cache %v; every artifact file was read", p)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
