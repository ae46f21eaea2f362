//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// busyboxPath is Debian busybox-static's binary (`make e2e` installs the
// package when it is missing).
const busyboxPath = "/bin/busybox"

// The CNB user of the base images.
const (
	cnbUID = 1000
	cnbGID = 1000
)

var epoch = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

// baseImage is a linux/amd64 image from scratch: a static busybox with a
// link per applet, root and the CNB user (uid/gid 1000, home /home/cnb),
// /tmp (1777), CNB_USER_ID/CNB_GROUP_ID and User 1000:1000. No labels:
// builder.toml has no [stack], and the sample buildpacks' targets name only
// the os. role ("build" or "run") goes into /etc/os-release only, so the two
// images differ.
func baseImage(t testing.TB, role string) v1.Image {
	t.Helper()
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		t.Fatalf("reading %s (Debian busybox-static; `make e2e` installs it): %v", busyboxPath, err)
	}
	if err := checkStatic(busyboxPath); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(busyboxPath, "--list-full").Output()
	if err != nil {
		t.Fatalf("%s --list-full: %v", busyboxPath, err)
	}
	links := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		l = strings.TrimPrefix(l, "/")
		if l != "bin/busybox" {
			links[l] = true
		}
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(n string, mode int64, uid, gid int) {
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: epoch}))
	}
	file := func(n string, mode int64, data []byte) {
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: mode, Size: int64(len(data)), ModTime: epoch}))
		_, err := tw.Write(data)
		must(t, err)
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "home", "root"} {
		mode := int64(0o755)
		if d == "root" {
			mode = 0o700
		}
		dir(d, mode, 0, 0)
	}
	dir("home/cnb", 0o755, cnbUID, cnbGID)
	dir("tmp", 0o1777, 0, 0)
	file("bin/busybox", 0o755, bb)
	file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/bin/sh\ncnb:x:%d:%d:CNB user:/home/cnb:/bin/sh\n", cnbUID, cnbGID))
	file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\ncnb:x:%d:\n", cnbGID))
	file("etc/os-release", 0o644, []byte("ID=busybox\nNAME=\"e2e "+role+" image\"\n"))
	names := make([]string, 0, len(links))
	for l := range links {
		names = append(names, l)
	}
	sort.Strings(names)
	for _, l := range names {
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: l, Linkname: "/bin/busybox", Mode: 0o777, ModTime: epoch}))
	}
	must(t, tw.Close())
	data := buf.Bytes()

	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	must(t, err)
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	must(t, err)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.History = nil
	cf.Config.User = fmt.Sprintf("%d:%d", cnbUID, cnbGID)
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		fmt.Sprintf("CNB_USER_ID=%d", cnbUID),
		fmt.Sprintf("CNB_GROUP_ID=%d", cnbGID),
	}
	img, err = mutate.ConfigFile(img, cf)
	must(t, err)
	return img
}

// checkStatic fails unless path is an ELF executable without an interpreter:
// the images have no libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; install Debian's busybox-static", path)
		}
	}
	return nil
}

// pushImage pushes img to ref and returns ref pinned by digest.
func pushImage(t testing.TB, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	must(t, err)
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	must(t, err)
	return r.Context().Name() + "@" + d.String()
}

// pushLayoutIndex pushes the one image index of the OCI layout that
// `make package` writes (out/lifecycle-image) to ref, and returns its digest.
func pushLayoutIndex(t testing.TB, dir, ref string) v1.Hash {
	t.Helper()
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading the lifecycle image layout %s (`make package` writes it): %v", dir, err)
	}
	im, err := root.IndexManifest()
	must(t, err)
	if len(im.Manifests) != 1 || !im.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("%s: want one image index in index.json, got %+v", dir, im.Manifests)
	}
	idx, err := root.ImageIndex(im.Manifests[0].Digest)
	must(t, err)
	r, err := name.ParseReference(ref)
	must(t, err)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing the lifecycle image to %s: %v", ref, err)
	}
	return im.Manifests[0].Digest
}

// lifecycleImageLacksPasswd reports whether the linux/amd64 image of the
// lifecycle image index at ref has no /etc/passwd. pack runs the phases of
// an untrusted builder in that image as User "root", which the Docker Engine
// resolves through the image's /etc/passwd.
func lifecycleImageLacksPasswd(t testing.TB, ref string) bool {
	t.Helper()
	img := amd64Image(t, ref)
	layers, err := img.Layers()
	must(t, err)
	for _, l := range layers {
		rc, err := l.Uncompressed()
		must(t, err)
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if strings.TrimPrefix(h.Name, "./") == "etc/passwd" {
				rc.Close()
				return false
			}
		}
		rc.Close()
	}
	return true
}

func amd64Image(t testing.TB, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref)
	must(t, err)
	idx, err := remote.Index(r)
	must(t, err)
	im, err := idx.IndexManifest()
	must(t, err)
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == "amd64" {
			img, err := idx.Image(m.Digest)
			must(t, err)
			return img
		}
	}
	t.Fatalf("%s has no linux/amd64 image", ref)
	return nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
