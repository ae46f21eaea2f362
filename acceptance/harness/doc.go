// Package harness starts the real registries and tools that acceptance tests
// run against. It is for test files built with the acceptance (or e2e) tag;
// unit tests must not import it, since it needs built binaries.
//
// Environment, set by the Makefile as absolute paths:
//
//	LIFECYCLE_DIR  the built lifecycle directory (out/lifecycle)
//	TOOLS_BIN      the directory of the Go tools (tools/bin)
//
// Anything missing is a test failure, never a skip.
package harness
