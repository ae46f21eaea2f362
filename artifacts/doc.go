// Package artifacts parses and validates the artifacts.toml files with which
// buildpacks declare additional OCI artifacts (buildpacks RFC 0113), and
// builds the OCI image-spec 1.1 manifests and blobs for them. It does no
// network I/O and knows nothing about registries: the exporter pushes what
// it builds.
//
// # Where artifacts.toml lives
//
// A buildpack writes at most one artifacts.toml per layer directory:
//
//	<layers>/<buildpack ID, "/" escaped as "_">/<layer>/artifacts.toml
//
// The file is optional. The layer need not be a launch layer (a build-only or
// cache-only layer works, and so does a directory without <layer>.toml).
// A layer that is neither launch, build nor cache is renamed by lifecycle's
// builder to <layer>.ignore; its artifacts are still read, and reported
// under the layer's own name. A
// file at <layers>/<buildpack>/artifacts.toml, outside any layer, is not read
// (the stock lifecycle would take it for a layer named "artifacts"). Load
// reads the buildpacks in group order and the layer directories of each in
// lexical order; that is the order of the declarations it returns.
// artifacts.toml itself must be a regular file (a symlink to one inside the
// layer directory is fine) of at most 1 MiB.
//
// # Format
//
// The RFC's form is accepted verbatim:
//
//	[[artifact]]
//	tag = "wasm"
//	file = "mywasmprogram.wasm"
//	[[artifact.labels]]
//	ConfigMediaType       = "application/vnd.wasm.config.v1+json"
//	ContentLayerMediaType = "application/vnd.wasm.content.layer.v1+wasm"
//
// labels may also be a plain table, [artifact.labels]; an array with more
// than one table is an error. The extensions are spelled in kebab-case like
// the lifecycle's other TOML files:
//
//	[[artifact]]
//	tag = "0.1.0"
//	type = "application/vnd.cncf.helm.config.v1+json" # artifactType
//	config = "chart/Chart.json"                       # config blob from a file
//	[artifact.labels]
//	ConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
//	ContentLayerMediaType = "..."  # media type of `file`, default of files
//	[[artifact.files]]             # any number of files
//	path = "mychart-0.1.0.tgz"
//	media-type = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
//	title = "mychart-0.1.0.tgz"    # optional
//	[artifact.annotations]
//	"org.opencontainers.image.description" = "..."
//
// Keys of an [[artifact]]:
//
//   - tag (required): the tag the artifact is published under, in the
//     repositories of the app image. It must match the OCI tag grammar
//     [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. A tag of the shape <alg>-<64 hex
//     digits> (such as sha256-<hex>) is rejected: it is the referrers
//     fallback tag of the distribution-spec, which registries and tools
//     reserve for the referrers index of the image with that digest. Tags
//     must be unique across all declarations of all buildpacks; a duplicate
//     is reported with both declarations.
//   - file: a file that becomes the first layer.
//   - [[artifact.files]]: more layers, each with path (required), media-type
//     and title. file and [[artifact.files]] may both be given; file comes
//     first. At least one file is required.
//   - type: the manifest's artifactType. It defaults to
//     labels.ConfigMediaType; one of the two is required (image-spec 1.1
//     requires artifactType when the config is the empty descriptor).
//   - config: a file whose content is the config blob. It requires
//     labels.ConfigMediaType. Without it the config content is `{}`.
//   - labels.ConfigMediaType: the config's media type. Without it the config
//     is the OCI empty descriptor (application/vnd.oci.empty.v1+json, `{}`).
//   - labels.ContentLayerMediaType: the media type of file, and of every
//     entry of [[artifact.files]] without a media-type. A file without either
//     is application/octet-stream.
//   - [artifact.annotations]: string annotations of the manifest. Keys must
//     not be empty. The keys the exporter sets are reserved:
//     org.opencontainers.image.created, org.opencontainers.image.title (use
//     title) and every key starting with io.buildpacks.artifact.
//
// Unknown keys anywhere are errors that name the key; labels knows only
// ConfigMediaType and ContentLayerMediaType (free-form metadata belongs in
// annotations).
//
// Media types (type, labels.*, media-type) must follow RFC 6838: a type and
// a subtype of [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126} each, separated by
// "/", with an optional +suffix and without parameters.
//
// # Paths
//
// config, file and path are slash-separated and relative to the layer
// directory. They are cleaned; they must not be absolute and must not leave
// the layer directory, neither with ".." nor through a symbolic link (a
// symbolic link that stays inside the layer directory is fine). They must
// name an existing regular file: a directory, FIFO, socket or device is an
// error. Every file is reached through an os.Root of the layer directory,
// which enforces this, and is stat'ed before it is opened so that a FIFO
// never blocks.
//
// A file's title, the org.opencontainers.image.title annotation of its layer
// (clients such as oras use it as the file name on pull), defaults to the
// base name of its path. Titles must be unique within an artifact and be a
// relative name without "..", "." or empty elements.
//
// # Errors
//
// Load returns all errors at once, joined, so that a buildpack author can fix
// them in one go. Each is a *DeclarationError that names the buildpack, the
// layer, the artifacts.toml (relative to the layers directory) and, when
// known, the artifact (counted from 1 in messages, Index is 0-based) and its
// tag. Every *DeclarationError matches ErrInvalid; the error it wraps
// matches a more specific sentinel (ErrSyntax, ErrUnknownKey, ...) or
// fs.ErrNotExist.
//
// # The manifest
//
// Build turns a declaration into an Artifact whose blobs are read lazily.
// Artifact.Manifest builds an OCI image manifest (image-spec 1.1) following
// oras-go's PackManifest:
//
//   - schemaVersion 2, mediaType application/vnd.oci.image.manifest.v1+json,
//     artifactType, config, layers, subject, annotations, in that order;
//   - config: with labels.ConfigMediaType, that media type and the config
//     file or `{}`; otherwise the empty descriptor with data "e30=";
//   - layers: one per file, with its media type, digest, size and
//     org.opencontainers.image.title;
//   - subject: the app image, when the exporter gives one;
//   - annotations: the author's, plus org.opencontainers.image.created (the
//     export's creation time, RFC 3339 in UTC),
//     io.buildpacks.artifact.buildpack.id,
//     io.buildpacks.artifact.buildpack.version and
//     io.buildpacks.artifact.layer.
//
// The same inputs give the same bytes. Blobs hash their file on first use,
// once, by streaming it; a blob reader fails with ErrFileChanged if the size
// of the file changed since. A file blob is a FileBlob, whose HashingReader
// hashes the file while it is read (the exporter's streaming policy decides
// when to upload that way), so a new file is read once; the manifest is
// built after that upload. A DigestCache, <layers>/.cnb-artifacts/digests.json,
// opened by the caller (OpenDigestCache), given to Build (WithDigestCache)
// and saved by the caller (Save), lets a later export from the same layers
// directory skip reading a file whose device, inode, size, mtime and ctime
// did not change (see digestcache.go for why this is safe and what risk
// remains). The package holds no mutable state of its own. Errors reading a
// file match ErrFile.
package artifacts
