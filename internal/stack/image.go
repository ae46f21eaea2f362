// Package stack makes what `pack build` needs and this machine cannot pull:
// busybox build and run images made from scratch with go-containerregistry,
// and a builder of our lifecycle tarball and given buildpacks. `make stack`
// (hack/stack) and the e2e tests use it, so the two cannot drift.
package stack

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
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is Debian busybox-static's binary (`make e2e` and `make stack`
// install the package when it is missing).
const BusyboxPath = "/bin/busybox"

// The CNB user of the base images.
const (
	UID = 1000
	GID = 1000
)

var epoch = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

// BaseImage is a linux/amd64 image from scratch: the static busybox at
// busybox with a link per applet, root and the CNB user (uid/gid 1000, home
// /home/cnb), /tmp (1777), CNB_USER_ID/CNB_GROUP_ID and User 1000:1000. No
// labels: builder.toml has no [stack], and buildpack targets that name only
// the os match it. role ("build" or "run") goes into /etc/os-release only,
// so the two images differ.
func BaseImage(busybox, role string) (v1.Image, error) {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("reading %s (Debian busybox-static): %w", busybox, err)
	}
	if err := checkStatic(busybox); err != nil {
		return nil, err
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	data, err := baseLayer(bb, strings.Fields(string(out)), role)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
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
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.History = nil
	cf.Config.User = fmt.Sprintf("%d:%d", UID, GID)
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		fmt.Sprintf("CNB_USER_ID=%d", UID),
		fmt.Sprintf("CNB_GROUP_ID=%d", GID),
	}
	return mutate.ConfigFile(img, cf)
}

// baseLayer is the image's one layer: busybox, its applet links, the users.
func baseLayer(bb []byte, applets []string, role string) ([]byte, error) {
	links := map[string]bool{}
	for _, l := range applets {
		l = strings.TrimPrefix(l, "/")
		if l != "bin/busybox" {
			links[l] = true
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var errs []error
	dir := func(n string, mode int64, uid, gid int) {
		errs = append(errs, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: epoch}))
	}
	file := func(n string, mode int64, data []byte) {
		errs = append(errs, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: mode, Size: int64(len(data)), ModTime: epoch}))
		_, err := tw.Write(data)
		errs = append(errs, err)
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "home", "root"} {
		mode := int64(0o755)
		if d == "root" {
			mode = 0o700
		}
		dir(d, mode, 0, 0)
	}
	dir("home/cnb", 0o755, UID, GID)
	dir("tmp", 0o1777, 0, 0)
	file("bin/busybox", 0o755, bb)
	file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/bin/sh\ncnb:x:%d:%d:CNB user:/home/cnb:/bin/sh\n", UID, GID))
	file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\ncnb:x:%d:\n", GID))
	file("etc/os-release", 0o644, []byte("ID=busybox\nNAME=\"busybox "+role+" image\"\n"))
	names := make([]string, 0, len(links))
	for l := range links {
		names = append(names, l)
	}
	sort.Strings(names)
	for _, l := range names {
		errs = append(errs, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: l, Linkname: "/bin/busybox", Mode: 0o777, ModTime: epoch}))
	}
	errs = append(errs, tw.Close())
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
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
