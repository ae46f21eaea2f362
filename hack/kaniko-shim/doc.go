// Package kaniko is a shim: see go.mod. Types are aliases of
// chainguard-dev/kaniko's, so values pass between the two unchanged; the two
// package variables lifecycle assigns (config.KanikoDir and
// image.RetrieveRemoteImage) are copied into chainguard's by executor.DoBuild.
// It holds exactly the identifiers lifecycle v0.21.17's
// internal/extend/kaniko uses: a lifecycle bump that needs more fails to
// build (make build), naming the missing one.
package kaniko
