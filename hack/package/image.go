package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Labels of upstream's lifecycle image (lifecycle v0.21.17 tools/image).
const (
	labelVersion = "io.buildpacks.lifecycle.version"
	labelAPIs    = "io.buildpacks.lifecycle.apis"
	labelBuilder = "io.buildpacks.builder.metadata"
)

type tarballFile struct {
	platformDir
	path string
}

// buildIndex builds one image per platform and an OCI image index over
// them. Each image has one layer: /cnb/lifecycle.toml and /cnb/lifecycle/*
// exactly as the tarball has them under its root (upstream prepends /cnb/
// to the tarball's entries), /tmp (1777, for pack's untrusted builds, which
// run the phases in this image) and, when given, a CA bundle (upstream's
// base image, distroless/static, has one; without it the exporter could not
// reach TLS registries).
func buildIndex(desc descriptor, tarballs []tarballFile, caBundle []byte) (v1.ImageIndex, error) {
	apis, err := json.Marshal(desc.APIs)
	if err != nil {
		return nil, err
	}
	legacy, err := json.Marshal(map[string]any{
		"lifecycle": map[string]string{"version": desc.Lifecycle.Version},
		"api": map[string]string{
			"buildpack": desc.APIs.Buildpack.Supported[0],
			"platform":  desc.APIs.Platform.Supported[0],
		},
	})
	if err != nil {
		return nil, err
	}
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, t := range tarballs {
		layerPath, err := writeImageLayer(desc.raw, t.dir, caBundle)
		if err != nil {
			return nil, err
		}
		// The layer file is read again on push; it is removed when the
		// process exits (see cleanup).
		tempFiles = append(tempFiles, layerPath)
		layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, err
		}
		img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
		if err != nil {
			return nil, err
		}
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = t.os, t.arch
		cf.Created = v1.Time{Time: modTime}
		cf.History = nil
		cf.Config.WorkingDir = "/layers"
		cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		cf.Config.Labels = map[string]string{
			labelVersion: desc.Lifecycle.Version,
			labelAPIs:    string(apis),
			labelBuilder: string(legacy),
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Platform:  &v1.Platform{OS: t.os, Architecture: t.arch},
		}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

var tempFiles []string

func cleanup() {
	for _, f := range tempFiles {
		os.Remove(f)
	}
}

// writeImageLayer writes the image's one layer as a gzip file.
// The users and groups of the lifecycle image, as in upstream's base.
var (
	etcPasswd = []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")
	etcGroup  = []byte("root:x:0:\nnobody:x:65534:\n")
)

func writeImageLayer(descriptorRaw []byte, dir string, caBundle []byte) (string, error) {
	entries, err := distEntries(descriptorRaw, dir)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "lifecycle-layer-*.tgz")
	if err != nil {
		return "", err
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	dirHdr := func(n string, mode int64) entry {
		return entry{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: n, Mode: mode}}
	}
	head := []entry{dirHdr("cnb/", 0o755)}
	file := func(n string, data []byte) entry {
		return entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(data))}, data: data}
	}
	// pack runs the untrusted phases in this image as user "root": the
	// engine resolves that name in /etc/passwd and refuses to start the
	// container without it. Upstream's distroless base has these files.
	tail := []entry{dirHdr("etc/", 0o755), file("etc/group", etcGroup), file("etc/passwd", etcPasswd)}
	if len(caBundle) > 0 {
		tail = append(tail, dirHdr("etc/ssl/", 0o755), dirHdr("etc/ssl/certs/", 0o755),
			file("etc/ssl/certs/ca-certificates.crt", caBundle))
	}
	tail = append(tail, dirHdr("tmp/", 0o1777))
	werr := writeEntries(tw, head, "")
	if werr == nil {
		werr = writeEntries(tw, entries, "cnb/")
	}
	if werr == nil {
		werr = writeEntries(tw, tail, "")
	}
	if werr == nil {
		werr = tw.Close()
	}
	if werr == nil {
		werr = zw.Close()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", werr
	}
	return f.Name(), nil
}

// pushIndex pushes idx to ref and returns ref's repository pinned by digest.
func pushIndex(ref string, idx v1.ImageIndex) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(r, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", err
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s@%s", r.Context().Name(), d), nil
}

// writeLayout replaces dir with an OCI layout holding idx, named version.
func writeLayout(dir, version string, idx v1.ImageIndex) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": version,
	}))
}
