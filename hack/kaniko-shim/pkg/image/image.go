// Package image aliases chainguard-dev/kaniko/pkg/image.
package image

import (
	ck "github.com/chainguard-dev/kaniko/pkg/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/osscontainertools/kaniko/pkg/config"
)

// RetrieveRemoteImage is copied into chainguard's by executor.DoBuild.
var RetrieveRemoteImage func(image string, opts config.RegistryOptions, customPlatform string) (v1.Image, error) = ck.RetrieveRemoteImage
