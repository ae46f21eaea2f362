package sbom

// Format is an SBOM format that buildpacks write: a layer's
// <layer>.sbom.<Name>.json, copied by the builder to
// sbom/launch/<buildpack>/<layer>/<Ext>.
type Format struct {
	// Name is the short name in the file name: cdx, spdx or syft.
	Name string
	// Ext is the file name lifecycle gives the format: sbom.<Name>.json.
	Ext string
	// MediaType is the format's media type, the published artifact's
	// artifactType.
	MediaType string
}

// The formats lifecycle v0.21.17 knows (buildpack/bomfile.go), in the order
// Merge returns their documents.
var (
	CycloneDX = Format{Name: "cdx", Ext: "sbom.cdx.json", MediaType: "application/vnd.cyclonedx+json"}
	SPDX      = Format{Name: "spdx", Ext: "sbom.spdx.json", MediaType: "application/spdx+json"}
	Syft      = Format{Name: "syft", Ext: "sbom.syft.json", MediaType: "application/vnd.syft+json"}

	Formats = []Format{CycloneDX, SPDX, Syft}
)

// Limits on what Find lists and Merge reads: every file under the layers
// directory is written by a buildpack (untrusted code).
const (
	// MaxFileSize bounds one SBOM file. Syft's JSON of a large image is a
	// few MiB; 64 MiB leaves room and still bounds the memory one decode
	// may take.
	MaxFileSize = 64 << 20
	// MaxSources bounds the SBOM files of one export, over all formats.
	MaxSources = 3000
	// MaxTotalSize bounds the bytes Merge reads over all files of one
	// format.
	MaxTotalSize = 256 << 20
)

// formatByExt returns the format whose Ext is name.
func formatByExt(name string) (Format, bool) {
	for _, f := range Formats {
		if f.Ext == name {
			return f, true
		}
	}
	return Format{}, false
}
