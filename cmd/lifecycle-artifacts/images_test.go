package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
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

// The layout target reuses the layers of a previous image named by its
// layout identifier (path@digest); a previous image named otherwise fails.
// Not parallel: it captures the logger.
func TestInitLayoutAppImagePrevious(t *testing.T) {
	// lifecycle parses layout paths as image references: lower case.
	dir, err := os.MkdirTemp("", "layout")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	runRef := fixture.WriteRunImageLayout(t, dir, "example.com/run:latest")
	buf := captureLog(t)
	for _, tc := range []struct {
		name, previous string
		err            bool
	}{
		{name: "none"},
		{name: "by layout identifier", previous: runRef},
		{name: "not a layout identifier", previous: "example.com/app:previous", err: true},
	} {
		buf.Reset()
		e := newExportCmd("0.13")
		e.LayoutDir, e.OutputImageRef = dir, "example.com/app:latest"
		md := files.Analyzed{RunImage: &files.RunImage{Reference: runRef}}
		if tc.previous != "" {
			md.PreviousImage = &files.ImageIdentifier{Reference: tc.previous}
		}
		img, runID, err := e.initLayoutAppImage(md)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), "parsing previous image reference") {
				t.Fatalf("%s: got %v, want a failure to parse the previous image", tc.name, err)
			}
			continue
		}
		if err != nil || img == nil || runID == "" {
			t.Fatalf("%s: image %v, run image %q, err %v", tc.name, img, runID, err)
		}
		if reused := strings.Contains(buf.String(), "Reusing layers from image"); reused != (tc.previous != "") {
			t.Fatalf("%s: reusing logged %v:\n%s", tc.name, reused, buf.String())
		}
	}
}
