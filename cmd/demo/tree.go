package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type report struct {
	Image struct {
		Tags         []string `toml:"tags"`
		Digest       string   `toml:"digest"`
		ManifestSize int64    `toml:"manifest-size"`
	} `toml:"image"`
	Artifacts []reportArtifact `toml:"artifacts"`
}

type reportArtifact struct {
	Buildpack        string   `toml:"buildpack"`
	BuildpackVersion string   `toml:"buildpack-version"`
	Layer            string   `toml:"layer"`
	Tag              string   `toml:"tag"`
	Type             string   `toml:"type"`
	ManifestSize     int64    `toml:"manifest-size"`
	Refs             []string `toml:"refs"`
	Skipped          string   `toml:"skipped"`
}

func parseReport(b []byte) (*report, error) {
	var r report
	if _, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
		return nil, fmt.Errorf("parsing report.toml: %w", err)
	}
	if r.Image.Digest == "" {
		return nil, fmt.Errorf("report.toml has no image digest")
	}
	return &r, nil
}

const (
	helmConfig = "application/vnd.cncf.helm.config.v1+json"
	// The annotations of an SBOM artifact that name what was merged
	// (package sbom).
	sbomSourcesAnnotation = "io.buildpacks.sbom.sources"
	sbomMergedAnnotation  = "io.buildpacks.sbom.merged"
)

// isSBOM reports whether a report entry is one of the exporter's SBOM
// artifacts (CNB_ARTIFACTS_SBOM=referrers): untagged by default, found
// through the app image's referrers by artifact type.
func (a reportArtifact) isSBOM() bool {
	return a.Buildpack == "buildpacksio/lifecycle" && a.Layer == "sbom"
}

// printTree reads the app image, the referrers API and each artifact back
// from the registry and prints them as a tree with pull commands.
func printTree(out io.Writer, rep *report, repo string, embedded bool) error {
	opts := []remote.Option{remote.WithAuthFromKeychain(keychain())}
	appRef, err := name.ParseReference(repo + "@" + rep.Image.Digest)
	if err != nil {
		return err
	}
	img, err := remote.Image(appRef, opts...)
	if err != nil {
		return fmt.Errorf("reading the app image back: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	var imgSize int64
	for _, l := range m.Layers {
		imgSize += l.Size
	}
	plain := ""
	if isLoopback(appRef.Context().RegistryStr()) {
		plain = "--plain-http "
	}
	where := "the registry"
	if embedded {
		where = "the embedded olareg"
	}
	fmt.Fprintf(out, "=== Read back from %s\n", where)
	fmt.Fprintf(out, "%s\n", strings.Join(rep.Image.Tags, ", "))
	fmt.Fprintf(out, "│ app image  %s\n", rep.Image.Digest)
	fmt.Fprintf(out, "│            %s manifest, %d layers, %s, config %s\n", size(rep.Image.ManifestSize), len(m.Layers), size(imgSize), m.Config.MediaType)

	// The referrers API (olareg has it; elsewhere ggcr falls back to the
	// sha256-<hex> tag).
	refIdx, err := remote.Referrers(appRef.Context().Digest(rep.Image.Digest), opts...)
	if err != nil {
		return fmt.Errorf("listing referrers: %w", err)
	}
	refMan, err := refIdx.IndexManifest()
	if err != nil {
		return err
	}
	referrers := map[string]v1.Descriptor{}
	for _, d := range refMan.Manifests {
		referrers[d.Digest.String()] = d
	}
	fmt.Fprintf(out, "│ referrers  %d (oras discover %s%s)\n│\n", len(refMan.Manifests), plain, appRef)

	var published []reportArtifact
	for _, a := range rep.Artifacts {
		if a.Skipped != "" {
			fmt.Fprintf(out, "│ (skipped) %s from %s: %s\n", a.Tag, a.Buildpack, a.Skipped)
			continue
		}
		published = append(published, a)
	}
	if len(published) == 0 {
		return fmt.Errorf("%w: was out/lifecycle/creator built from this repository? (upstream's creator publishes none)", errNoArtifacts)
	}
	var problems []string
	var sbomTypes []string
	for i, a := range published {
		branch, pipe := "├──", "│  "
		if i == len(published)-1 {
			branch, pipe = "└──", "   "
		}
		if len(a.Refs) == 0 {
			problems = append(problems, a.Tag+": no refs in report.toml")
			continue
		}
		ref, err := name.ParseReference(a.Refs[0])
		if err != nil {
			return err
		}
		desc, err := remote.Get(ref, opts...)
		if err != nil {
			return fmt.Errorf("reading artifact %s back: %w", a.Refs[0], err)
		}
		var am v1.Manifest
		if err := json.Unmarshal(desc.Manifest, &am); err != nil {
			return fmt.Errorf("artifact %s: %w", a.Refs[0], err)
		}
		label := a.Tag
		if a.isSBOM() {
			label = "SBOM " + a.Type
			sbomTypes = append(sbomTypes, a.Type)
		}
		// The tag must resolve to the same manifest (an untagged SBOM has
		// none: the referrers API is where it is found).
		if a.Tag != "" {
			tagged, err := name.ParseReference(repo + ":" + a.Tag)
			if err != nil {
				return err
			}
			if td, err := remote.Head(tagged, opts...); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", tagged, err))
			} else if td.Digest != desc.Digest {
				problems = append(problems, fmt.Sprintf("%s is %s, report says %s", tagged, td.Digest, desc.Digest))
			}
		}
		if _, ok := referrers[desc.Digest.String()]; !ok {
			problems = append(problems, fmt.Sprintf("%s is not among the app image's referrers", label))
		}
		if am.Subject == nil || am.Subject.Digest.String() != rep.Image.Digest {
			problems = append(problems, fmt.Sprintf("%s: subject is not the app image", label))
		}
		total := am.Config.Size
		for _, l := range am.Layers {
			total += l.Size
		}
		artifactType := am.ArtifactType
		if artifactType == "" {
			artifactType = string(am.Config.MediaType)
		}
		if a.isSBOM() && a.Tag == "" {
			fmt.Fprintf(out, "%s SBOM (untagged referrer)\n", branch)
		} else {
			fmt.Fprintf(out, "%s %s:%s\n", branch, repo, a.Tag)
		}
		fmt.Fprintf(out, "%s   type    %s\n", pipe, artifactType)
		fmt.Fprintf(out, "%s   digest  %s\n", pipe, desc.Digest)
		fmt.Fprintf(out, "%s   size    %s (manifest %s, config %s)\n", pipe, size(total+desc.Size), size(desc.Size), size(am.Config.Size))
		if a.isSBOM() {
			merged := "merged"
			if am.Annotations[sbomMergedAnnotation] == "false" {
				merged = "carried unmerged, one file per source"
			}
			fmt.Fprintf(out, "%s   from    %s (%s)\n", pipe, am.Annotations[sbomSourcesAnnotation], merged)
		} else {
			fmt.Fprintf(out, "%s   from    %s@%s, layer %s\n", pipe, a.Buildpack, a.BuildpackVersion, a.Layer)
		}
		for _, l := range am.Layers {
			title := l.Annotations["org.opencontainers.image.title"]
			fmt.Fprintf(out, "%s   file    %s  %s  %s  %s\n", pipe, title, l.MediaType, size(l.Size), l.Digest)
		}
		if string(am.Config.MediaType) == helmConfig {
			chart := repo
			fmt.Fprintf(out, "%s   pull    helm pull oci://%s --version %s %s\n", pipe, chart, strings.ReplaceAll(a.Tag, "_", "+"), strings.TrimSpace(plain))
		}
		if a.isSBOM() {
			fmt.Fprintf(out, "%s   find    oras discover %s--artifact-type %s %s\n", pipe, plain, artifactType, appRef)
			fmt.Fprintf(out, "%s   pull    oras pull %s%s@%s -o %s\n", pipe, plain, repo, desc.Digest, filepath.Join("out", "demo-pull", "sbom"))
		} else {
			fmt.Fprintf(out, "%s   pull    oras pull %s%s:%s -o %s\n", pipe, plain, repo, a.Tag, filepath.Join("out", "demo-pull", a.Tag))
		}
		if i < len(published)-1 {
			fmt.Fprintln(out, "│")
		}
	}
	fmt.Fprintf(out, "\n%d artifacts published with the app image.\n", len(published))
	if len(sbomTypes) > 0 {
		fmt.Fprintf(out, "%d of them are SBOMs, untagged: read them with oras discover %s--artifact-type <type> %s (type %s), then oras pull %s%s@<digest>.\n",
			len(sbomTypes), plain, appRef, strings.Join(sbomTypes, ", "), plain, repo)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "demo: check failed:", p)
		}
		return fmt.Errorf("%d checks of the registry failed", len(problems))
	}
	fmt.Fprintf(out, "Checked: each tag resolves to the reported digest, each artifact's subject is the app image, and the referrers API lists all %d.\n", len(published))
	return nil
}

func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func size(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
	}
}
