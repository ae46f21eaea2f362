package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/buildpacks/lifecycle/buildpack"
	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/platform/files"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// Tests of the functions images.go mirrors from upstream, on what they
// decide without a daemon or a registry.

// SOURCE_DATE_EPOCH sets the image's creation time from platform API 0.9;
// one that is not a number is ignored, with a warning. Not parallel: it
// sets the environment and captures the logger.
func TestCustomSourceDateEpoch(t *testing.T) {
	buf := captureLog(t)
	for _, tc := range []struct {
		api, epoch string
		want       time.Time
		warn       bool
	}{
		{api: "0.13", epoch: "1700000000", want: time.Unix(1700000000, 0)},
		{api: "0.9", epoch: "1700000000", want: time.Unix(1700000000, 0)},
		{api: "0.8", epoch: "1700000000"},
		{api: "0.13"},
		{api: "0.13", epoch: "yesterday", warn: true},
	} {
		t.Setenv("SOURCE_DATE_EPOCH", tc.epoch)
		buf.Reset()
		e := newExportCmd(tc.api)
		if got := e.customSourceDateEpoch(); !got.Equal(tc.want) {
			t.Errorf("API %s, SOURCE_DATE_EPOCH=%q: %v, want %v", tc.api, tc.epoch, got, tc.want)
		}
		if warned := buf.Len() > 0; warned != tc.warn {
			t.Errorf("API %s, SOURCE_DATE_EPOCH=%q: warned %v, want %v:\n%s", tc.api, tc.epoch, warned, tc.warn, buf.String())
		}
	}
}

// The run image's config comes from the extended run image in
// <extended>/run when the analyzed run image says it is extended.
func TestGetExtendedConfig(t *testing.T) {
	t.Parallel()
	img, err := random.Image(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.Config(img, v1.Config{Env: []string{"EXTENDED=1"}}); err != nil {
		t.Fatal(err)
	}
	withImage := t.TempDir()
	lp, err := layout.Write(filepath.Join(withImage, "run", "sha256:abc"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	twoImages := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(twoImages, "run", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		run      *files.RunImage
		extended string
		env      string // the config's, "" for none
		err      bool
	}{
		{name: "no run image", err: true},
		{name: "not extended", run: &files.RunImage{}, extended: withImage},
		{name: "extended", run: &files.RunImage{Extend: true}, extended: withImage, env: "EXTENDED=1"},
		{name: "extended, no image", run: &files.RunImage{Extend: true}, extended: t.TempDir(), err: true},
		{name: "extended, two images", run: &files.RunImage{Extend: true}, extended: twoImages, err: true},
	} {
		e := newExportCmd("0.13")
		e.ExtendedDir = tc.extended
		cfg, err := e.getExtendedConfig(tc.run)
		if (err != nil) != tc.err {
			t.Fatalf("%s: err %v, want an error: %v", tc.name, err, tc.err)
		}
		if got := cfg != nil && len(cfg.Env) == 1 && cfg.Env[0] == tc.env; (cfg != nil || tc.env != "") && !got {
			t.Fatalf("%s: config %+v, want env %q", tc.name, cfg, tc.env)
		}
	}
}

// Extended layers are there when <extended>/run holds anything.
func TestHasExtendedLayers(t *testing.T) {
	t.Parallel()
	emptyRun, full := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(emptyRun, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(full, "run", "sha256:abc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  string
		want bool
	}{
		{dir: ""},
		{dir: t.TempDir()},
		{dir: emptyRun},
		{dir: full, want: true},
	} {
		e := newExportCmd("0.13")
		e.ExtendedDir = tc.dir
		if got := e.hasExtendedLayers(); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.dir, got, tc.want)
		}
	}
}

// The cache is the cache image when one is named, else the cache
// directory, else none; one that cannot be opened fails.
func TestInitCache(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, image, dir string
		cache, err       bool
	}{
		{name: "none"},
		{name: "a directory", dir: t.TempDir(), cache: true},
		{name: "a directory that is a file", dir: file, err: true},
		{name: "a bad image name", image: "Bad Name", dir: t.TempDir(), err: true},
	} {
		c, err := initCache(tc.image, tc.dir, nil, false)
		if (err != nil) != tc.err || (c != nil) != tc.cache {
			t.Errorf("%s: cache %v, err %v; want cache %v, an error %v", tc.name, c, err, tc.cache, tc.err)
		}
		var fail *cmd.ErrorFail
		if err != nil && !errors.As(err, &fail) {
			t.Errorf("%s: %v is not a lifecycle failure", tc.name, err)
		}
	}
}

// Every buildpack of the group must have a supported buildpack API.
func TestVerifyBuildpackApis(t *testing.T) {
	t.Parallel()
	ok := buildpack.GroupElement{ID: "a", Version: "1", API: "0.10"}
	bad := buildpack.GroupElement{ID: "b", Version: "1", API: "0.1"}
	if err := verifyBuildpackApis(buildpack.Group{Group: []buildpack.GroupElement{ok}}); err != nil {
		t.Fatal(err)
	}
	if err := verifyBuildpackApis(buildpack.Group{Group: []buildpack.GroupElement{ok, bad}}); err == nil {
		t.Fatal("an unsupported buildpack API passed")
	}
}
