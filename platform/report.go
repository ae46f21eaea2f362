package platform

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/platform/files"
)

// Report is report.toml as this exporter writes it: lifecycle's files.Report
// with one [[artifacts]] entry per published artifact. Its [build] and
// [image] tables are lifecycle's own, so lifecycle's files.Report decoder
// (kpack) reads the file unchanged, and with no artifacts the file is
// byte-identical to the stock exporter's.
type Report struct {
	Build     files.BuildReport `toml:"build,omitempty"`
	Image     files.ImageReport `toml:"image"`
	Artifacts []ArtifactReport  `toml:"artifacts,omitempty"`
	// ImageSignature is the app image's signature, when the export signed
	// it (CNB_ARTIFACTS_SIGNING_KEY); nil otherwise.
	ImageSignature *SignatureReport `toml:"image-signature,omitempty"`
}

// SignatureReport records the app image's signature (docs/spec.md section
// 17), as [image-signature].
type SignatureReport struct {
	// Signed is the app image's manifest, "sha256:…" (the [image] one).
	Signed string `toml:"signed"`
	// Signature is its signature manifest, "sha256:…", a referrer of Signed
	// in every repository the image was written to.
	Signature string `toml:"signature"`
}

// ArtifactReport records one artifact. No key contains the word "digest", and
// values are written so that no line of an [[artifacts]] entry contains it
// either: Tekton's catalog tasks read the image digest with
// `grep digest report.toml | cut -d'"' -f2`.
type ArtifactReport struct {
	Buildpack        string `toml:"buildpack"`
	BuildpackVersion string `toml:"buildpack-version"`
	Layer            string `toml:"layer"`
	Tag              string `toml:"tag"`
	Type             string `toml:"type"`
	ManifestSize     int64  `toml:"manifest-size"`
	// Refs holds one "repository:tag@sha256:…" per repository written to.
	Refs []string `toml:"refs"`
	// Skipped says why the artifact was not published: a daemon export
	// without a repository, a registry's refusal under best-effort, or
	// "not carried: <reason>" for a reused layer whose previous artifacts
	// could not be read under best-effort (then Tag and Type are empty).
	Skipped string `toml:"skipped,omitempty"`
	// CarriedFrom is set for an artifact of a layer reused from the
	// previous image: the previous artifact, "repository@sha256:…", which
	// was published again for this image.
	CarriedFrom string `toml:"carried-from,omitempty"`
	// Signature is the artifact's signature manifest, "sha256:…", a
	// referrer of the artifact in every repository of Refs, when the export
	// signed it.
	Signature string `toml:"signature,omitempty"`
}

// Marshal encodes the report the way lifecycle encodes files.Report.
func (r *Report) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	// The lifecycle part is encoded from lifecycle's own type, so it is what
	// stock writes, byte for byte.
	if err := toml.NewEncoder(&buf).Encode(files.Report{Build: r.Build, Image: r.Image}); err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	if len(r.Artifacts) == 0 && r.ImageSignature == nil {
		return buf.Bytes(), nil
	}
	var arts bytes.Buffer
	if err := toml.NewEncoder(&arts).Encode(struct {
		Artifacts      []ArtifactReport `toml:"artifacts,omitempty"`
		ImageSignature *SignatureReport `toml:"image-signature,omitempty"`
	}{r.Artifacts, r.ImageSignature}); err != nil {
		return nil, fmt.Errorf("encode report artifacts: %w", err)
	}
	buf.WriteString("\n")
	buf.Write(hideDigestWord(arts.Bytes()))
	return buf.Bytes(), nil
}

// digestWord matches "digest" in any letter case.
var digestWord = regexp.MustCompile(`(?i)d(igest)`)

// hideDigestWord escapes the first letter of "digest" in the encoded
// artifacts part. Every occurrence there is inside a TOML basic string (the
// keys are ours and never contain the word), so a \u escape decodes to the
// same value while `grep digest` no longer matches the line.
func hideDigestWord(b []byte) []byte {
	return digestWord.ReplaceAllFunc(b, func(m []byte) []byte {
		return append([]byte(fmt.Sprintf(`\u%04X`, m[0])), m[1:]...)
	})
}

// WriteReport writes the report atomically: a temporary file in the same
// directory, synced, then renamed over path. A reader sees the old file or the
// whole new one, never a partial write.
func WriteReport(path string, r *Report) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".report-*.toml")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write report: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write report: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
