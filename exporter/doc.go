// Package exporter publishes an app image and its buildpack-declared OCI
// artifacts as one export transaction.
//
// It hooks into lifecycle's phase.Exporter without changing it: Wrap
// decorates the imgutil.Image that the phase builds, and the phase's final
// SaveAs call runs the transaction instead of imgutil's own tag-by-tag write.
// Registries have no commit, so the transaction orders its writes (see
// Transaction.Commit) so that every tag moves last and the app image's
// primary tag is the commit point:
//
//  1. blobs: the app image's layers and config, every artifact's config and
//     layers (existing blobs are skipped, and mounted across repositories of
//     one registry);
//  2. manifests by digest: the app image's, then each artifact's, whose
//     subject is the app image;
//  3. tags: each artifact's tag, the referrers fallback index where the
//     registry has no referrers API, the app image's additional tags, and
//     last its primary tag.
//
// A Plan is made before the phase starts, from the names the platform gave
// and the validated declarations; it checks tag collisions, so bad input
// fails before any write.
package exporter
