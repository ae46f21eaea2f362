package platform

// Exit codes of the export phase. Lifecycle reserves 60-69 for export; 62 is
// its generic export error, which keeps its meaning here. The other codes are
// this distribution's and are documented in docs/spec.md.
const (
	// CodeExportFailed is lifecycle's generic export error: the export failed
	// and no tag moved.
	CodeExportFailed = 62
	// CodeInvalidArtifacts: an artifacts.toml, or a collision between artifact
	// and image tags, is invalid. It is detected before anything is written,
	// so nothing was pushed.
	CodeInvalidArtifacts = 63
	// CodeRegistryFailed: a registry refused or failed a write of the export
	// before the tag step. Blobs and untagged manifests may exist; every tag
	// still points where it pointed before the export.
	CodeRegistryFailed = 64
	// CodeTagsIncomplete: the export failed inside the tag step, after
	// retries. The log lists exactly which tags moved; rerunning the same
	// export completes it.
	CodeTagsIncomplete = 65
)
