package exporter

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/buildpacks/lifecycle/log"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// Transaction publishes one app image and its artifacts.
type Transaction struct {
	plan *Plan
	options
}

// New returns the transaction for plan.
func New(plan *Plan, opts ...Option) (*Transaction, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return newTransaction(plan, o)
}

// newTransaction returns the transaction for plan with options already made.
func newTransaction(plan *Plan, o options) (*Transaction, error) {
	if plan == nil {
		return nil, errors.New("nil plan")
	}
	return &Transaction{plan: plan, options: o}, nil
}

// Stage is a step of the transaction.
type Stage string

const (
	StageBlobs     Stage = "blobs"
	StageManifests Stage = "manifests"
	// StageSignatures: signing (WithSigner), between the blobs and the
	// manifests; a signature's own blobs and manifest are written in
	// StageManifests, after what it signs.
	StageSignatures Stage = "signatures"
	StageTags       Stage = "tags"
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

// Result is what an export published: the one outcome of every Target.
type Result struct {
	Subject   v1.Descriptor // the app image manifest; zero when not in a registry
	Artifacts []Published
	Moved     []string // every tag moved, in order; the primary image tag is last
	// Signature is the app image's signature manifest (WithSigner), a
	// referrer of Subject in every repository; zero when not signed.
	Signature v1.Descriptor
	// Skipped says why the artifacts were not published (a daemon export
	// without a repository); Artifacts then have neither manifest nor refs.
	Skipped string
}

// Published is one artifact as written.
type Published struct {
	Artifact *artifacts.Artifact
	Manifest artifacts.Manifest
	// Refs holds "repository:tag@digest", one per repository.
	Refs []string
	// Skipped says where and why the artifact was not published
	// (WithBestEffort: a registry refused its manifest); Refs lists the
	// repositories where it was, and is empty when it was nowhere.
	Skipped string
	// Signature is the artifact's signature manifest (WithSigner), a
	// referrer of Manifest in every repository of Refs; zero when not
	// signed.
	Signature v1.Descriptor
}

// Commit writes img (the finished app image) and every artifact of the plan,
// with img as their subject, in the order of docs/spec.md section 7: blobs,
// manifests by digest, tags. With a nil img it writes the artifacts alone,
// without a subject (an app image that is not in a registry), stamped with
// WithCreated and WithImageID.
func (t *Transaction) Commit(ctx context.Context, img v1.Image) (*Result, error) {
	// A key that cannot be used writes nothing (its error is a
	// signing.ErrKey, the caller's to map).
	if err := t.signerReady(img); err != nil {
		return nil, err
	}
	s := subject{imageID: t.imageID}
	if t.created != nil {
		s.created = *t.created
	}
	if img != nil {
		var err error
		if s, err = newSubject(img); err != nil {
			return nil, err
		}
	}
	writers, groups, err := t.dial(ctx)
	if err != nil {
		return nil, &CommitError{Stage: StageBlobs, Err: err}
	}
	prev := t.previousArtifacts(ctx, writers)
	held, err := t.checkOwnership(ctx, writers, t.knownOurs(s, prev))
	if err != nil {
		if errors.Is(err, artifacts.ErrInvalid) {
			return nil, err // a tag that is not ours: nothing was written
		}
		return nil, &CommitError{Stage: StageBlobs, Err: err}
	}
	t.warnStale(ctx, writers, prev)
	// Artifact files are hashed while they are uploaded (or not read at all
	// when the digest cache knows them), so their manifests are built after
	// the blobs are up.
	err = t.pushBlobs(ctx, groups, s)
	warnDigestCache(t.logger, t.cache)
	if errors.Is(err, artifacts.ErrFile) {
		// A file of a layer directory, not the registry, failed.
		return nil, err
	}
	if err != nil {
		return nil, &CommitError{Stage: StageBlobs, Err: err}
	}
	res := &Result{Subject: s.descriptor()}
	for _, a := range t.plan.artifacts {
		m, err := s.manifest(a)
		if err != nil {
			return nil, err
		}
		t.logger.Debugf("Artifact '%s' manifest %s:\n%s", a.Tag, m.Descriptor.Digest, m.Raw)
		res.Artifacts = append(res.Artifacts, Published{Artifact: a, Manifest: m})
	}

	sigs, err := t.sign(ctx, s, res.Artifacts)
	if err != nil {
		return nil, &CommitError{Stage: StageSignatures, Err: err}
	}
	refused := &refusals{}
	if err := t.pushManifests(ctx, writers, s, res.Artifacts, sigs, refused); err != nil {
		return nil, &CommitError{Stage: StageManifests, Err: err}
	}
	for i := range res.Artifacts {
		t.account(&res.Artifacts[i], i, writers, refused)
	}
	sigs.record(res)
	res.Moved, err = t.moveTags(ctx, writers, s, res.Artifacts, sigs, refused, held)
	return res, err
}

// account fills p's refs, one per repository that took its manifest, and
// says, with a warning each, where and why it was skipped (best-effort).
func (t *Transaction) account(p *Published, i int, writers []*repoWriter, refused *refusals) {
	d := p.Manifest.Descriptor.Digest
	p.Refs = []string{}
	var skipped []string
	for _, w := range writers {
		why, ok := refused.get(w.repo.Name(), d)
		if !ok {
			p.Refs = append(p.Refs, ref(w.repo, w.artifactTags[i], d))
			continue
		}
		if len(writers) > 1 {
			why = "in " + w.repo.Name() + ": " + why
		}
		skipped = append(skipped, why)
		a := p.Artifact
		t.logger.Warnf("Skipping artifact '%s:%s' (%s, %s): %s (%s=%s)", a.Buildpack.ID, a.Layer, tagLabel(a), a.ArtifactType, why, platform.EnvPolicy, platform.PolicyBestEffort)
	}
	p.Skipped = strings.Join(skipped, "; ")
}

// ref names a published artifact manifest: "repository:tag@sha256:…", or
// "repository@sha256:…" for an untagged one.
func ref(repo name.Repository, tag name.Tag, d v1.Hash) string {
	if !tagged(tag) {
		return repo.Digest(d.String()).Name()
	}
	return tag.Name() + "@" + d.String()
}

// dial returns a writer per repository of the plan, in plan order, and the
// writers grouped by registry; it authenticates once per registry, with push
// scope on each of its repositories (and pull scope on the repositories
// carried artifacts mount from).
func (t *Transaction) dial(ctx context.Context) ([]*repoWriter, []registryGroup, error) {
	var writers []*repoWriter
	for _, rp := range t.plan.repos {
		writers = append(writers, &repoWriter{repoPlan: rp})
	}
	groups := group(writers)
	for _, g := range groups {
		var repos []name.Repository
		for _, w := range g.writers {
			repos = append(repos, w.repo)
		}
		scopes := registry.Push(repos...)
		for _, src := range t.mountSources(g.name) {
			scopes = append(scopes, registry.Pull(src)...)
		}
		c, err := registry.Dial(ctx, repos[0].Registry, scopes, t.clientOptions())
		if err != nil {
			return nil, nil, err
		}
		for _, w := range g.writers {
			w.client = c
		}
	}
	return writers, groups, nil
}

// clientOptions are the options of every registry client of the export.
func (t *Transaction) clientOptions() registry.Options {
	return registry.Options{Keychain: t.keychain, Insecure: t.insecure, Timeout: t.timeout}
}

// mountSources are the repositories of registry reg that carried artifacts
// mount their blobs from.
func (t *Transaction) mountSources(reg string) []name.Repository {
	var out []name.Repository
	seen := map[string]bool{}
	for _, a := range t.plan.artifacts {
		if a.CarriedFrom == "" {
			continue
		}
		d, err := name.NewDigest(a.CarriedFrom, registry.NameOptions(a.CarriedFrom, t.insecure)...)
		if err != nil || d.Context().RegistryStr() != reg || seen[d.Context().Name()] {
			continue
		}
		seen[d.Context().Name()] = true
		out = append(out, d.Context())
	}
	return out
}

// previousArtifacts discovers the artifacts published for the previous
// image, through the client of its registry when the export writes there.
// Where the registry cannot tell, it warns: no stale warning is then given,
// and the ownership check reads every tag it finds.
func (t *Transaction) previousArtifacts(ctx context.Context, writers []*repoWriter) []PreviousArtifact {
	if t.previous == nil {
		return nil
	}
	var c *registry.Client
	for _, w := range writers {
		if w.repo.RegistryStr() == t.previous.Context().RegistryStr() {
			c = w.client
		}
	}
	if c == nil {
		return nil // the previous image is in another registry than this export
	}
	prev, signed, err := discover(ctx, c, *t.previous)
	if err != nil {
		t.logger.Warnf("Not checking for stale artifacts: %v", err)
		return nil
	}
	if signed && t.signer == nil {
		WarnUnsigned(t.logger, t.previous.Name())
	}
	return prev
}

// warnStale logs one warning per artifact of the previous image that this
// export does not publish again and whose tag still names it.
func (t *Transaction) warnStale(ctx context.Context, writers []*repoWriter, prev []PreviousArtifact) {
	if len(prev) == 0 {
		return
	}
	var c *registry.Client
	for _, w := range writers {
		if w.repo.RegistryStr() == t.previous.Context().RegistryStr() {
			c = w.client
		}
	}
	for _, pa := range t.plan.Stale(prev) {
		tag, ok := t.staleTag(ctx, c, pa)
		if !ok {
			continue
		}
		t.logger.Warnf("Artifact '%s:%s' (tag '%s') was not published for this image: tag %s still names the previous image's artifact %s",
			pa.Buildpack, pa.Layer, pa.Tag, tag.Name(), pa.Descriptor.Digest)
	}
}

// staleTag returns the tag in the previous image's repository that still
// names pa, if the plan publishes to that repository (its template applied
// as for this export) or pa's declared tag does.
func (t *Transaction) staleTag(ctx context.Context, c *registry.Client, pa PreviousArtifact) (name.Tag, bool) {
	if pa.Tag == "" {
		return name.Tag{}, false
	}
	repo := t.previous.Context()
	candidates := []string{pa.Tag}
	for _, tg := range t.plan.repos {
		if tg.repo.Name() == repo.Name() && len(tg.imageTags) > 0 {
			candidates = append([]string{t.plan.template.Expand(pa.Tag, tg.imageTags[0].TagStr())}, candidates...)
		}
	}
	for _, cand := range candidates {
		if d, err := c.Head(ctx, repo, cand); err == nil && d.Digest == pa.Descriptor.Digest {
			return repo.Tag(cand), true
		}
	}
	return name.Tag{}, false
}

// checkOwnership refuses, before any write, an artifact tag that holds
// something no buildpack published (docs/spec.md, "Tag ownership"), unless
// the platform allowed overwriting such tags. The reads go through each
// repository's client and are retried as any request; a foreign tag is not.
// ours are manifests known to be ours without reading them: the previous
// image's artifacts found by discovery, and the manifests about to be
// written. It returns what the artifact tags of ours hold, by tag name
// (CheckTagOwnership), for the tag step.
func (t *Transaction) checkOwnership(ctx context.Context, writers []*repoWriter, ours map[v1.Hash]bool) (map[string]v1.Hash, error) {
	if t.overwriteForeign || len(t.plan.artifacts) == 0 {
		return nil, nil
	}
	clients := map[string]*registry.Client{}
	for _, w := range writers {
		clients[w.repo.RegistryStr()] = w.client
	}
	return t.plan.CheckTagOwnership(ctx, t.jobs, func(repo name.Repository) *registry.Client { return clients[repo.RegistryStr()] }, ours)
}

// knownOurs are the manifests an artifact tag may hold that are ours
// without reading them: the previous image's artifacts (discovery read
// their annotations) and the manifests this export is about to write, where
// building them reads no file that the upload would not have hashed first
// anyway (every file's digest is known, or the file is below the streaming
// size: see streamPolicy).
func (t *Transaction) knownOurs(s subject, prev []PreviousArtifact) map[v1.Hash]bool {
	ours := map[v1.Hash]bool{}
	for _, pa := range prev {
		ours[pa.Descriptor.Digest] = true
	}
	for _, a := range t.plan.artifacts {
		if !t.stream.hashedFirst(a) {
			continue
		}
		if m, err := s.manifest(a); err == nil {
			ours[m.Descriptor.Digest] = true
		}
	}
	return ours
}

// warnDigestCache warns when the digest cache's file was ignored.
func warnDigestCache(logger log.Logger, c *artifacts.DigestCache) {
	if p := c.Problem(); p != nil {
		logger.Warnf("Ignored the artifacts digest cache %v; every artifact file was read", p)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
