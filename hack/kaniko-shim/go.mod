// The import paths of github.com/osscontainertools/kaniko that lifecycle
// v0.21.17's extender uses, mapped onto chainguard-dev/kaniko v1.25.5 (the
// kaniko lifecycle v0.21.0 shipped). The module proxy serves no version of
// osscontainertools/kaniko, so go.mod replaces it with this directory.
module github.com/osscontainertools/kaniko

go 1.24

require github.com/chainguard-dev/kaniko v1.25.5
