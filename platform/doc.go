// Package platform holds what the platform hands the exporter and what the
// exporter hands back: the inputs this distribution adds to lifecycle's
// (environment variables, see inputs.go), the report.toml schema (report.go)
// and the exit codes (exit.go).
//
// Everything that lifecycle itself defines (flags, CNB_* inputs, files.Report)
// is reused from github.com/buildpacks/lifecycle/platform; this package only
// adds to it.
package platform
