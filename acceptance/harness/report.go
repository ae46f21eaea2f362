package harness

import (
	"fmt"
	"os"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/cnb-artifacts/lifecycle/platform"
)

// DecodeReport decodes report.toml into the exporter's own type,
// platform.Report (lifecycle's files.Report plus [[artifacts]]).
func DecodeReport(raw []byte) (platform.Report, error) {
	var r platform.Report
	if _, err := toml.Decode(string(raw), &r); err != nil {
		return platform.Report{}, fmt.Errorf("decode report.toml: %w", err)
	}
	return r, nil
}

// ReadReport reads and decodes the report.toml at path.
func ReadReport(path string) (platform.Report, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return platform.Report{}, err
	}
	return DecodeReport(raw)
}

// MustReadReport is ReadReport for a test: it fails the test on error.
func MustReadReport(t testing.TB, path string) platform.Report {
	t.Helper()
	r, err := ReadReport(path)
	if err != nil {
		t.Fatalf("read report: %v", err)
	}
	return r
}
