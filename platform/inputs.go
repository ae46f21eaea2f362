package platform

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnvArtifactTagTemplate names the input that derives each artifact's tag.
// Placeholders: {tag}, the tag the buildpack declared, and {image-tag}, the
// app image's tag in the same repository. The default is "{tag}".
const EnvArtifactTagTemplate = "CNB_ARTIFACTS_TAG_TEMPLATE"

// DefaultTagTemplate publishes each artifact under the tag its buildpack declared.
const DefaultTagTemplate = "{tag}"

// EnvRegistryTimeout names the input that bounds how long one request of the
// export transaction may go without progress (nothing sent, nothing
// received), as a Go duration ("60s", "2m"): a registry that accepts a
// connection and never answers, or stalls mid-answer, cannot hold the
// export. A request that times out is retried like any transient failure.
const EnvRegistryTimeout = "CNB_ARTIFACTS_REGISTRY_TIMEOUT"

// DefaultRegistryTimeout is the timeout when EnvRegistryTimeout is unset.
const DefaultRegistryTimeout = 60 * time.Second

// EnvDaemonRepository names a registry repository that receives the
// artifacts of a daemon export (-daemon), which cannot hold them. They are
// pushed there without a subject, annotated with the image ID. Unset, a
// daemon export skips the artifacts with a warning.
const EnvDaemonRepository = "CNB_ARTIFACTS_DAEMON_REPOSITORY"

// EnvOverwriteForeignTags names the input that lets an export move an
// artifact tag that holds something no buildpack published (an image, an
// index, another tool's artifact). Off by default: such a tag refuses the
// export before any write.
const EnvOverwriteForeignTags = "CNB_ARTIFACTS_OVERWRITE_FOREIGN_TAGS"

// EnvPolicy names the input that says what an export does with artifacts:
// PolicyRequired (the default), PolicyBestEffort or PolicyOff.
const EnvPolicy = "CNB_ARTIFACTS_POLICY"

// Policy is the value of EnvPolicy.
type Policy string

const (
	// PolicyRequired publishes the app image and every artifact in one
	// transaction, or nothing.
	PolicyRequired Policy = "required"
	// PolicyBestEffort skips, with a warning, an artifact whose manifest a
	// registry refuses for good (a 4xx such as 400 MANIFEST_INVALID), and
	// publishes the rest; transient failures still fail the export.
	PolicyBestEffort Policy = "best-effort"
	// PolicyOff reads no artifacts.toml and pushes nothing extra: the
	// exporter behaves as stock.
	PolicyOff Policy = "off"
)

// EnvSBOM names the input that says whether an export publishes the
// buildpacks' launch SBOMs as referrers of the app image: SBOMReferrers, or
// SBOMOff (the default: the export is as without it).
const EnvSBOM = "CNB_ARTIFACTS_SBOM"

// SBOMMode is the value of EnvSBOM.
type SBOMMode string

const (
	// SBOMOff publishes no SBOM artifact.
	SBOMOff SBOMMode = "off"
	// SBOMReferrers publishes one artifact per SBOM format present, whose
	// subject is the app image (docs/spec.md section 16).
	SBOMReferrers SBOMMode = "referrers"
)

// EnvSigningKey names a private key, as `cosign generate-key-pair` writes
// it, with which the export signs the app image and every artifact
// (docs/spec.md section 17); unset, nothing is signed.
// EnvSigningPasswordFile names a file holding its password. Both are read
// before privileges drop and never reach a buildpack.
const (
	EnvSigningKey          = "CNB_ARTIFACTS_SIGNING_KEY"
	EnvSigningPasswordFile = "CNB_ARTIFACTS_SIGNING_PASSWORD_FILE"
)

// EnvSBOMTag names the input that tags the SBOM artifacts: a declared tag
// holding {format} exactly once (e.g. "sbom-{format}": sbom-cdx,
// sbom-spdx, sbom-syft), published through the tag template and the tag
// ownership rules like a buildpack's. Unset, they are untagged.
const EnvSBOMTag = "CNB_ARTIFACTS_SBOM_TAG"

// ArtifactInputs are the inputs this distribution adds to lifecycle's.
type ArtifactInputs struct {
	TagTemplate          TagTemplate
	RegistryTimeout      time.Duration
	DaemonRepository     string
	OverwriteForeignTags bool
	Policy               Policy
	SBOM                 SBOMMode
	// SBOMTag is EnvSBOMTag as given ("" for untagged); SBOMTagFor expands it.
	SBOMTag string
	// SigningKey and SigningPasswordFile are EnvSigningKey and
	// EnvSigningPasswordFile as given ("" for unset): paths, not secrets.
	SigningKey          string
	SigningPasswordFile string
}

// SBOMTagFor returns the declared tag of the SBOM artifact of a format
// ("cdx"): EnvSBOMTag with {format} replaced, or "" when untagged.
func (in ArtifactInputs) SBOMTagFor(format string) string {
	return strings.Replace(in.SBOMTag, "{format}", format, 1)
}

// ResolveArtifactInputs reads ArtifactInputs from the environment.
func ResolveArtifactInputs(getenv func(string) string) (ArtifactInputs, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	raw := getenv(EnvArtifactTagTemplate)
	if raw == "" {
		raw = DefaultTagTemplate
	}
	tmpl, err := ParseTagTemplate(raw)
	if err != nil {
		return ArtifactInputs{}, fmt.Errorf("%s: %w", EnvArtifactTagTemplate, err)
	}
	timeout := DefaultRegistryTimeout
	if raw := getenv(EnvRegistryTimeout); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return ArtifactInputs{}, fmt.Errorf("%s: %q is not a positive duration such as 60s", EnvRegistryTimeout, raw)
		}
		timeout = d
	}
	var overwrite bool
	if raw := getenv(EnvOverwriteForeignTags); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return ArtifactInputs{}, fmt.Errorf("%s: %q is not true or false", EnvOverwriteForeignTags, raw)
		}
		overwrite = b
	}
	policy := PolicyRequired
	if raw := getenv(EnvPolicy); raw != "" {
		switch p := Policy(raw); p {
		case PolicyRequired, PolicyBestEffort, PolicyOff:
			policy = p
		default:
			return ArtifactInputs{}, fmt.Errorf("%s: %q is not one of %s, %s, %s", EnvPolicy, raw, PolicyRequired, PolicyBestEffort, PolicyOff)
		}
	}
	sbom := SBOMOff
	if raw := getenv(EnvSBOM); raw != "" {
		switch m := SBOMMode(raw); m {
		case SBOMOff, SBOMReferrers:
			sbom = m
		default:
			return ArtifactInputs{}, fmt.Errorf("%s: %q is not one of %s, %s", EnvSBOM, raw, SBOMReferrers, SBOMOff)
		}
	}
	sbomTag := getenv(EnvSBOMTag)
	if sbomTag != "" {
		if err := checkSBOMTag(sbomTag); err != nil {
			return ArtifactInputs{}, fmt.Errorf("%s: %w", EnvSBOMTag, err)
		}
	}
	key, pass := getenv(EnvSigningKey), getenv(EnvSigningPasswordFile)
	if pass != "" && key == "" {
		return ArtifactInputs{}, fmt.Errorf("%s is set without %s", EnvSigningPasswordFile, EnvSigningKey)
	}
	return ArtifactInputs{TagTemplate: tmpl, RegistryTimeout: timeout, DaemonRepository: getenv(EnvDaemonRepository),
		OverwriteForeignTags: overwrite, Policy: policy, SBOM: sbom, SBOMTag: sbomTag,
		SigningKey: key, SigningPasswordFile: pass}, nil
}

// checkSBOMTag holds an SBOM tag to {format} exactly once (so the formats'
// tags differ) and to the characters a tag may hold around it.
func checkSBOMTag(s string) error {
	if strings.Count(s, "{format}") != 1 {
		return fmt.Errorf("%q must contain {format} exactly once, e.g. \"sbom-{format}\"", s)
	}
	if err := checkLiteral(strings.Replace(s, "{format}", "", 1)); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

// TagTemplate derives an artifact's published tag. It always contains {tag}
// exactly once, so distinct declared tags give distinct published tags.
type TagTemplate struct{ raw string }

// ParseTagTemplate validates a template: only the placeholders {tag} and
// {image-tag}, {tag} exactly once, and literal text limited to the
// characters a tag may hold.
func ParseTagTemplate(s string) (TagTemplate, error) {
	rest := s
	tags := 0
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			if err := checkLiteral(rest); err != nil {
				return TagTemplate{}, fmt.Errorf("template %q: %w", s, err)
			}
			break
		}
		if err := checkLiteral(rest[:i]); err != nil {
			return TagTemplate{}, fmt.Errorf("template %q: %w", s, err)
		}
		rest = rest[i:]
		j := strings.IndexByte(rest, '}')
		if rest[0] != '{' || j < 0 {
			return TagTemplate{}, fmt.Errorf("template %q: unbalanced braces", s)
		}
		switch ph := rest[:j+1]; ph {
		case "{tag}":
			tags++
		case "{image-tag}":
		default:
			return TagTemplate{}, fmt.Errorf("template %q: unknown placeholder %s (want {tag} or {image-tag})", s, ph)
		}
		rest = rest[j+1:]
	}
	if tags != 1 {
		return TagTemplate{}, fmt.Errorf("template %q: must contain {tag} exactly once", s)
	}
	return TagTemplate{raw: s}, nil
}

func checkLiteral(s string) error {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return fmt.Errorf("character %q cannot appear in a tag", r)
		}
	}
	return nil
}

// Expand returns the published tag for a declared tag and the app image's tag
// in the same repository. The caller validates the result as a tag.
func (t TagTemplate) Expand(tag, imageTag string) string {
	raw := t.raw
	if raw == "" {
		raw = DefaultTagTemplate
	}
	return strings.NewReplacer("{tag}", tag, "{image-tag}", imageTag).Replace(raw)
}

// String returns the template as written.
func (t TagTemplate) String() string {
	if t.raw == "" {
		return DefaultTagTemplate
	}
	return t.raw
}
