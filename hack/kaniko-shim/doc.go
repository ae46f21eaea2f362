// Package kaniko is a shim: see go.mod. Types are aliases of
// chainguard-dev/kaniko's, so values pass between the two unchanged; the two
// package variables lifecycle assigns (config.KanikoDir and
// image.RetrieveRemoteImage) are copied into chainguard's by executor.DoBuild.
// The test in the lifecycle module (extender_shim_test.go) lists the
// identifiers lifecycle uses, so an upstream bump that needs more fails there.
package kaniko
