// Package exporter publishes an app image and its buildpack-declared OCI
// artifacts as one export transaction.
//
// A Target is where an export goes: NewRegistryTarget, NewLayoutTarget or
// NewDaemonTarget, chosen once by cmd. Each plans (Plan: tags and
// collisions, before any write), wraps lifecycle's working image (Wrap: the
// phase's final SaveAs then runs the transaction instead of imgutil's own
// tag-by-tag write), and finishes after upstream's save (Finish), returning
// one Result.
//
// The Transaction (transaction.go) writes through one repoWriter per
// repository (writer.go: its registry's client, carrying the one retry
// policy of every request, and its referrers capability) in the order that
// docs/spec.md section 7 defines, one file per stage: blobs.go,
// manifests.go, tags.go (with the wave scheduler in waves.go). The app
// image is described once (subject.go). The push order is stated only in
// the spec; comments here point there.
//
// The caller owns the digest cache (artifacts.DigestCache): it opens it,
// passes it (WithDigestCache, and artifacts.WithDigestCache) and saves it.
// This package holds the streaming policy (stream.go): which artifact files
// are hashed while they upload.
package exporter
