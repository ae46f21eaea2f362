package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/BurntSushi/toml"
)

// modTime is the mtime of every tar entry and the creation time of the
// image: lifecycle's archive.NormalizedModTime, which imgutil also uses.
var modTime = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

type descriptor struct {
	APIs struct {
		Buildpack apiSet `toml:"buildpack" json:"buildpack"`
		Platform  apiSet `toml:"platform" json:"platform"`
	} `toml:"apis" json:"apis"`
	Lifecycle struct {
		Version string `toml:"version" json:"version"`
	} `toml:"lifecycle"`
	raw []byte
}

type apiSet struct {
	Deprecated []string `toml:"deprecated" json:"deprecated"`
	Supported  []string `toml:"supported" json:"supported"`
}

func readDescriptor(path string) (descriptor, error) {
	var d descriptor
	raw, err := os.ReadFile(path)
	if err != nil {
		return d, fmt.Errorf("reading descriptor: %w", err)
	}
	if _, err := toml.Decode(string(raw), &d); err != nil {
		return d, fmt.Errorf("parsing %s: %w", path, err)
	}
	if d.Lifecycle.Version == "" {
		return d, fmt.Errorf("%s: no [lifecycle] version", path)
	}
	if len(d.APIs.Buildpack.Supported) == 0 || len(d.APIs.Platform.Supported) == 0 {
		return d, fmt.Errorf("%s: [apis] lists are empty", path)
	}
	// JSON labels want [] rather than null.
	for _, s := range []*apiSet{&d.APIs.Buildpack, &d.APIs.Platform} {
		if s.Deprecated == nil {
			s.Deprecated = []string{}
		}
	}
	d.raw = raw
	return d, nil
}

// entry is one file of the distribution, relative to the tarball root.
type entry struct {
	hdr  *tar.Header
	path string // source file for regular files
	data []byte // content when not read from path
}

// distEntries lists the distribution as upstream's packager lays it out
// (lifecycle v0.21.17 tools/packager): lifecycle.toml at the root, where
// pack reads it (archive.ReadTarEntry(…, "lifecycle.toml")), then the
// directory lifecycle/ with the binaries and the phase links, whose
// entries pack copies into /cnb/lifecycle/ (^[^/]+/([^/]+)$). Entries are
// sorted, owned by 0:0, with a fixed mtime; modes are 0755 for
// directories and executables, 0644 for other files.
func distEntries(descriptorRaw []byte, dir string) ([]entry, error) {
	out := []entry{
		{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: "lifecycle.toml", Mode: 0o644, Size: int64(len(descriptorRaw))}, data: descriptorRaw},
		{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: "lifecycle/", Mode: 0o755}},
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(des))
	for _, de := range des {
		// The descriptor goes to the root only, as upstream's.
		if de.Name() != "lifecycle.toml" {
			names = append(names, de.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		name := "lifecycle/" + n
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return nil, err
			}
			if filepath.IsAbs(target) || filepath.Base(target) != target {
				return nil, fmt.Errorf("%s: link target %q is not a sibling", p, target)
			}
			out = append(out, entry{hdr: &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}})
		case fi.Mode().IsRegular():
			mode := int64(0o644)
			if fi.Mode()&0o111 != 0 {
				mode = 0o755
			}
			out = append(out, entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: fi.Size()}, path: p})
		default:
			return nil, fmt.Errorf("%s: neither a file nor a link", p)
		}
	}
	return out, nil
}

// writeEntries writes entries to tw with prefix prepended to each name.
func writeEntries(tw *tar.Writer, entries []entry, prefix string) error {
	for _, e := range entries {
		hdr := *e.hdr
		hdr.Name = prefix + hdr.Name
		hdr.Format = tar.FormatUnknown // let the writer pick the smallest format
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.ModTime = modTime
		if err := tw.WriteHeader(&hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if e.data != nil {
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(tw, e.path, hdr.Size); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(w io.Writer, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s changed while packaging", path)
	}
	return nil
}

// writeTarball writes the release tarball of dir to name (atomically) and
// name.sha256 in sha256sum's format; it returns the hex digest.
func writeTarball(name string, descriptorRaw []byte, dir string) (string, error) {
	entries, err := distEntries(descriptorRaw, dir)
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tgz-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	// No name and no time in the gzip header: the bytes depend on the
	// content only.
	zw, err := gzip.NewWriterLevel(io.MultiWriter(tmp, h), gzip.DefaultCompression)
	if err != nil {
		tmp.Close()
		return "", err
	}
	tw := tar.NewWriter(zw)
	if err := writeEntries(tw, entries, ""); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tw.Close(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(name+".sha256", []byte(sum+"  "+filepath.Base(name)+"\n"), 0o644); err != nil {
		return "", err
	}
	return sum, nil
}
