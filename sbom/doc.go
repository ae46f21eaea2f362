// Package sbom finds the launch SBOMs of an export and merges each format's
// into one document that describes the app image as a whole: the content
// of the SBOM referrers the exporter publishes (docs/spec.md, "SBOM
// referrers"). It is pure: it reads the layers directory and the
// launcher's SBOM directory, and does no network I/O.
//
// # Finding
//
// Find lists, in the group's order, each buildpack's
// sbom/launch/<escaped-id>/sbom.<ext>.json (its buildpack-level launch SBOM)
// and sbom/launch/<escaped-id>/<layer>/sbom.<ext>.json (a launch layer's, by
// layer name), where lifecycle's builder copies them, then the launcher's
// SBOMs from the directory the exporter copies them from. Merge reads each
// file once, through an os.Root at its directory, without blocking, as a
// regular file of at most MaxFileSize bytes; under the layers directory,
// whose files are a buildpack's (untrusted) writing, a symbolic link is
// refused, while the launcher's directory (the platform's, perhaps a
// mounted ConfigMap) may hold links that stay inside it.
//
// # Merging
//
// Each format's sources are merged with that format's maintained library:
//
//   - CycloneDX (github.com/CycloneDX/cyclonedx-go): one BOM whose
//     metadata.component is the app (type container, bom-ref
//     io.buildpacks.app). Its components are flat: for each source, one
//     component that stands for it (group: the buildpack ID, name: the
//     layer, or "launch" for a buildpack-level SBOM, version: the
//     buildpack's version, properties io.buildpacks.*), then the source's
//     metadata.component and components, at the top level, each with the
//     components it nests as the source wrote them. Flat, because scanners
//     read the top level only (Trivy reads bom.components); the
//     dependencies say which components are whose: the app depends on each
//     source's component, which depends on the source's metadata.component
//     and top-level components. Nothing is deduplicated: a package in two
//     layers is in the image twice. Every bom-ref stays as the source
//     wrote it unless an earlier source took it; then it becomes
//     <source's bom-ref>/<ref> (not a suffix, which could read as part of
//     a version), everywhere that source names it (dependencies,
//     compositions, vulnerabilities, annotations). The sources'
//     dependencies follow ours. Services, vulnerabilities, compositions and
//     annotations are concatenated; a source's formulation, declarations,
//     definitions, citations and signature are not merged (Document.Omitted
//     says so), nor is its metadata other than component and properties.
//     The spec version is the highest of the sources' (at least 1.5).
//   - SPDX (github.com/spdx/tools-golang, SPDX 2.3 JSON; 2.1 and 2.2
//     sources are read as 2.3): one document that DESCRIBES the app package
//     (purpose CONTAINER), which CONTAINS one package per source, which
//     CONTAINS what the source's document described (or, if it described
//     nothing, its packages). All packages, files, snippets, relationships,
//     external document references and extracted licenses are kept;
//     identifiers (SPDXRef-, DocumentRef-, LicenseRef-) are renamed only on
//     a collision, to <id>-2, <id>-3, … (an identifier allows letters,
//     digits, '.' and '-' only), everywhere the source names them (a
//     LicenseRef with the same name and text is kept once).
//   - Syft JSON is not merged: Document.Parts carries each source's
//     document byte for byte, so that the artifact can hold one layer per
//     source. syft's syftjson package is the only maintained library of the
//     format; in this module it would upgrade dozens of modules the
//     lifecycle needs and grow the exporter (docs/spec.md gives the
//     numbers), and it re-encodes a document in its own schema version, so
//     a merge would not carry each source as its author wrote it.
//
// # Reproducibility
//
// The same sources (identity, order, bytes) and Options give the same
// bytes. Nothing depends on the clock, randomness or map order: the
// CycloneDX serialNumber and the SPDX documentNamespace are a UUID
// (version 8) of the sha256 of the sources (AnnotationDigest); CycloneDX
// has no timestamp; the SPDX created time is the latest created time of
// the sources, or DefaultCreated (1980-01-01T00:00:01Z, lifecycle's
// normalized file time) when none has one. Order is the group's, then the
// layer name, then the launcher.
package sbom
