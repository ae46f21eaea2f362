// Package config aliases chainguard-dev/kaniko/pkg/config.
package config

import ck "github.com/chainguard-dev/kaniko/pkg/config"

type (
	KanikoOptions   = ck.KanikoOptions
	RegistryOptions = ck.RegistryOptions
	CacheOptions    = ck.CacheOptions
)

// KanikoDir is copied into chainguard's by executor.DoBuild.
var KanikoDir = ck.KanikoDir
