package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// StartDistribution3 starts CNCF distribution v3.0.0 (tools/bin/distribution,
// built from its Go module: the `registry:3` most people self-host) with
// filesystem storage, no auth and deletes enabled. Like 2.8, it has no
// referrers API.
func StartDistribution3(t testing.TB) *Registry {
	t.Helper()
	bin := Tool(t, "distribution")
	return startRegistry(t, "distribution3", false, func(dir string, port int) ([]string, error) {
		config := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(config, distributionConfig(filepath.Join(dir, "storage"), port), 0o644); err != nil {
			return nil, fmt.Errorf("writing distribution config: %w", err)
		}
		return []string{bin, "serve", config}, nil
	})
}
