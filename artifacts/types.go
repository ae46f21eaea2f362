package artifacts

// Buildpack identifies a buildpack in group order (from group.toml).
type Buildpack struct{ ID, Version string }

// Declaration is one [[artifact]] of an artifacts.toml, validated and with
// every default applied.
type Declaration struct {
	Buildpack Buildpack
	// Layer is the layer directory name.
	Layer string
	// LayerDir is the absolute layer directory; every Path is relative to it.
	LayerDir string
	// Source is the artifacts.toml path relative to the layers directory,
	// slash-separated, for messages.
	Source string
	// Index is the 0-based position of this [[artifact]] in Source.
	Index int

	Tag string
	// ArtifactType is the declared `type`, else ConfigMediaType. Load always
	// sets it.
	ArtifactType string
	// ConfigMediaType is labels.ConfigMediaType; "" means the OCI empty
	// descriptor is used as config.
	ConfigMediaType string
	// Config is the config file; nil means the config content is `{}`.
	Config *File
	// Files are the manifest's layers, in order; there is at least one.
	Files []File
	// Annotations are the author's manifest annotations.
	Annotations map[string]string
}

// File is a file in a layer directory.
type File struct {
	// Path is cleaned, relative to the layer directory and slash-separated.
	Path      string
	MediaType string
	// Title is the org.opencontainers.image.title annotation of the layer
	// descriptor; it defaults to the base name of Path. Unused for Config.
	Title string
}

func (d Declaration) location() location {
	return location{Buildpack: d.Buildpack, Layer: d.Layer, LayerDir: d.LayerDir, Source: d.Source}
}
