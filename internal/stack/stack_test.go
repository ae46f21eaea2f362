package stack

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestBuilderTOML(t *testing.T) {
	got := BuilderTOML("/out/lc.tgz", []Buildpack{{Dir: "/bp/a", ID: "ex/a", Version: "1"}, {Dir: "/bp/b", ID: "ex/b", Version: "2"}}, "r/build:latest", "r/run:latest")
	for _, want := range []string{
		"[[buildpacks]]\n  uri = \"/bp/a\"\n\n[[buildpacks]]\n  uri = \"/bp/b\"",
		"[[order]]\n  [[order.group]]\n    id = \"ex/a\"\n    version = \"1\"\n  [[order.group]]\n    id = \"ex/b\"",
		"[lifecycle]\n  uri = \"/out/lc.tgz\"", "[build]\n  image = \"r/build:latest\"", "[[run.images]]\n  image = \"r/run:latest\"",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("builder.toml lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "[stack]") {
		t.Errorf("builder.toml has [stack]")
	}
}

func TestBaseLayer(t *testing.T) {
	data, err := baseLayer([]byte("bb"), []string{"/bin/busybox", "/bin/sh", "/usr/bin/env"}, "run")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
	for name, check := range map[string]func(h *tar.Header) bool{
		"tmp/":        func(h *tar.Header) bool { return h.Mode == 0o1777 },
		"home/cnb/":   func(h *tar.Header) bool { return h.Uid == UID && h.Gid == GID },
		"bin/sh":      func(h *tar.Header) bool { return h.Linkname == "/bin/busybox" },
		"usr/bin/env": func(h *tar.Header) bool { return h.Linkname == "/bin/busybox" },
		"bin/busybox": func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Mode == 0o755 },
		"etc/passwd":  func(h *tar.Header) bool { return h.Size > 0 },
	} {
		if h, ok := got[name]; !ok || !check(h) {
			t.Errorf("%s: got %+v", name, h)
		}
	}
}
