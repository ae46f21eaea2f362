package artifacts

import "errors"

// Limits on what one export's declarations may ask for. They are checked
// when the declarations are loaded, before anything is read or pushed, so
// that a buildpack (untrusted code) cannot make the exporter loop, allocate
// or upload without bound. No real buildpack comes near them; docs/spec.md
// ("Limits") says why each is where it is. Artifact files have no size
// limit: they are streamed, never held in memory.
const (
	// MaxArtifacts bounds the artifacts of one export, over all buildpacks
	// and layers: each is a manifest and a tag written one at a time where
	// the registry indexes referrers.
	MaxArtifacts = 1000
	// MaxFilesPerArtifact bounds the files (layers) of one artifact: a
	// manifest of 1,000 layers is about 300 KB, well under the 4 MiB that
	// registries accept for a manifest.
	MaxFilesPerArtifact = 1000
	// MaxConfigSize bounds an artifact's config file, which the exporter
	// reads whole: 4 MiB, the size registries accept for a manifest.
	MaxConfigSize = 4 << 20
	// MaxAnnotationBytes bounds the keys and values of one artifact's
	// [artifact.annotations], which go into its manifest.
	MaxAnnotationBytes = 64 << 10
	// maxDeclFileSize bounds an artifacts.toml.
	maxDeclFileSize = 1 << 20
	// maxDigestCacheSize bounds the digest cache file; a larger one is
	// ignored, and not written.
	maxDigestCacheSize = 64 << 20
)

// ErrLimit matches every error for a declaration over one of the limits.
var ErrLimit = errors.New("over the limit")
