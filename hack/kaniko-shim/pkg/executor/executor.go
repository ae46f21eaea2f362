// Package executor wraps chainguard-dev/kaniko/pkg/executor.
package executor

import (
	ckconfig "github.com/chainguard-dev/kaniko/pkg/config"
	ckexecutor "github.com/chainguard-dev/kaniko/pkg/executor"
	ckimage "github.com/chainguard-dev/kaniko/pkg/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/osscontainertools/kaniko/pkg/config"
	"github.com/osscontainertools/kaniko/pkg/image"
)

// DoBuild hands the shim's package variables to chainguard's, then builds.
func DoBuild(opts *config.KanikoOptions) (v1.Image, error) {
	ckconfig.KanikoDir = config.KanikoDir
	ckimage.RetrieveRemoteImage = image.RetrieveRemoteImage
	return ckexecutor.DoBuild(opts)
}
