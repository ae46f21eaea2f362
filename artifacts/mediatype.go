package artifacts

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	// RFC 6838 section 4.2: type-name "/" subtype-name, each a restricted-name
	// of at most 127 characters. Parameters are not allowed.
	mediaTypeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

	// OCI distribution-spec tag grammar.
	tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

	// The referrers tag schema of the distribution-spec: a digest "<alg>:<ref>"
	// with ":" replaced by "-", alg truncated to 32 and ref to 64 characters.
	fallbackTagRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}-[0-9a-f]{64}$`)
)

// IsFallbackTag reports whether tag has the shape <alg>-<64 hex digits> of
// the distribution-spec's referrers tag schema, which registries without the
// referrers API (and the tools that read them) reserve for the referrers
// index of the image with that digest. It is the one check of that shape:
// for declared tags (Load) and for tags after the platform's template
// (exporter.NewPlan).
func IsFallbackTag(tag string) bool { return fallbackTagRE.MatchString(tag) }

// validateMediaType reports whether s is an RFC 6838 media type without
// parameters, e.g. "application/vnd.wasm.config.v1+json".
func validateMediaType(s string) error {
	if mediaTypeRE.MatchString(s) {
		return nil
	}
	if strings.Contains(s, ";") {
		return fmt.Errorf("%w %q: parameters are not allowed", ErrInvalidMediaType, s)
	}
	return fmt.Errorf("%w %q: want type/subtype as in RFC 6838, e.g. \"application/vnd.example.v1+json\"", ErrInvalidMediaType, s)
}

// validateTag reports whether s is a valid OCI tag that an artifact may use.
func validateTag(s string) error {
	if !tagRE.MatchString(s) {
		return fmt.Errorf("%w %q: want 1 to 128 characters of [a-zA-Z0-9._-], not starting with '.' or '-'", ErrInvalidTag, s)
	}
	if IsFallbackTag(s) {
		return fmt.Errorf("%w %q: it has the shape <alg>-<hex> of a referrers fallback tag, which registries and tools reserve for the referrers index of the image with that digest", ErrInvalidTag, s)
	}
	return nil
}
