package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// sampleOrder is the order of the sample buildpacks that samples/ has; other
// buildpack directories of -samples follow in lexical order.
var sampleOrder = []string{"wasm", "helm", "tests"}

// buildpackList is the repeatable -buildpack flag.
type buildpackList []string

func (b *buildpackList) String() string { return strings.Join(*b, ",") }

func (b *buildpackList) Set(dir string) error {
	*b = append(*b, dir)
	return nil
}

// resolveInputs makes the directories absolute and decides the buildpacks
// and the app: -buildpack DIR (in order) and -app DIR when given, else the
// buildpack directories of -samples and its app/.
func resolveInputs(o *options) error {
	var err error
	if o.lifecycleDir, err = filepath.Abs(o.lifecycleDir); err != nil {
		return err
	}
	if o.appDir == "" {
		o.appDir = filepath.Join(o.samplesDir, "app")
	}
	if o.appDir, err = filepath.Abs(o.appDir); err != nil {
		return err
	}
	if fi, err := os.Stat(o.appDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("-app %s: not a directory (give the app's source directory)", o.appDir)
	}
	if len(o.buildpackDirs) == 0 {
		if o.buildpackDirs, err = sampleBuildpackDirs(o.samplesDir); err != nil {
			return err
		}
	}
	for i, d := range o.buildpackDirs {
		if o.buildpackDirs[i], err = filepath.Abs(d); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(o.buildpackDirs[i], "buildpack.toml")); err != nil {
			return fmt.Errorf("-buildpack %s: no buildpack.toml (give a buildpack's directory: buildpack.toml, bin/detect, bin/build)", d)
		}
	}
	return nil
}

// sampleBuildpackDirs lists the subdirectories of dir that hold a
// buildpack.toml: sampleOrder first, then the others in lexical order.
func sampleBuildpackDirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("-samples: %w", err)
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "buildpack.toml")); err == nil {
			names = append(names, e.Name())
		}
	}
	rank := func(n string) int {
		if i := slices.Index(sampleOrder, n); i >= 0 {
			return i
		}
		return len(sampleOrder)
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	if len(names) == 0 {
		return nil, errors.New("-samples " + dir + ": no buildpack directory (with a buildpack.toml) in it; or give -buildpack DIR")
	}
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(dir, n))
	}
	return out, nil
}
