package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// sbomBinaries are the binaries whose SBOMs the distribution carries, as
// upstream's release does for lifecycle and launcher (the exporter copies
// them into the app image from /cnb/lifecycle), plus our exporter.
var sbomBinaries = []string{"lifecycle", "launcher", "lifecycle-artifacts"}

// sbomSuffixes are upstream's file names: <binary>.<suffix>.
var sbomSuffixes = []string{"sbom.cdx.json", "sbom.spdx.json", "sbom.syft.json"}

// checkSBOMs fails unless dir has every SBOM of every binary (hack/sbom
// writes them; `make package-binaries` runs it) and each Syft JSON document
// describes the binary next to it, not an earlier build.
func checkSBOMs(dir string) error {
	for _, bin := range sbomBinaries {
		for _, suffix := range sbomSuffixes {
			name := filepath.Join(dir, bin+"."+suffix)
			if _, err := os.Stat(name); err != nil {
				return fmt.Errorf("missing SBOM (`make package-binaries` writes them): %w", err)
			}
		}
		raw, err := os.ReadFile(filepath.Join(dir, bin+".sbom.syft.json"))
		if err != nil {
			return err
		}
		var doc struct {
			Source struct {
				Metadata struct {
					Digests []struct {
						Algorithm string `json:"algorithm"`
						Value     string `json:"value"`
					} `json:"digests"`
				} `json:"metadata"`
			} `json:"source"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("%s.sbom.syft.json: %w", bin, err)
		}
		b, err := os.ReadFile(filepath.Join(dir, bin))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		want := hex.EncodeToString(sum[:])
		var got string
		for _, d := range doc.Source.Metadata.Digests {
			if d.Algorithm == "sha256" {
				got = d.Value
			}
		}
		if got != want {
			return fmt.Errorf("%s: %s.sbom.syft.json describes sha256:%s, the binary is sha256:%s (stale SBOM; run `make package-binaries`)",
				dir, bin, got, want)
		}
	}
	return nil
}
