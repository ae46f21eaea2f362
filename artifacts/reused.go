package artifacts

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// ReusedLayer is a launch layer that this build keeps from the previous
// image without writing it: its <layer>.toml says launch = true and there is
// no layer directory, so lifecycle's exporter reuses the previous image's
// layer, and no artifacts.toml can declare its artifacts.
type ReusedLayer struct {
	Buildpack Buildpack
	Layer     string
}

// maxLayerTOML bounds a <layer>.toml read to find reused layers.
const maxLayerTOML = 1 << 20

// maxLayerEntries bounds the entries of a buildpack's layers directory read
// to find reused layers; a directory with more is read that far.
const maxLayerEntries = 10000

// readDirBounded reads at most n entries of root's top directory, sorted by
// name.
func readDirBounded(root *os.Root, n int) ([]fs.DirEntry, error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// ReusedLayers lists the reused launch layers of the group's buildpacks, in
// group order and lexical layer order. Files that are not small regular
// files are passed over (the buildpack owns them).
func ReusedLayers(layersDir string, group []Buildpack) ([]ReusedLayer, error) {
	var out []ReusedLayer
	for _, bp := range group {
		dir := filepath.Join(layersDir, EscapeID(bp.ID))
		root, err := os.OpenRoot(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("buildpack %q: %w", bp.ID, err)
		}
		entries, err := readDirBounded(root, maxLayerEntries)
		if err != nil {
			root.Close()
			return nil, fmt.Errorf("buildpack %q: %w", bp.ID, err)
		}
		for _, e := range entries {
			layer, ok := strings.CutSuffix(e.Name(), ".toml")
			if !ok || layer == "" || layer == "launch" || layer == "build" || layer == "store" || !e.Type().IsRegular() {
				continue
			}
			if _, err := root.Lstat(layer); !errors.Is(err, fs.ErrNotExist) {
				continue // the buildpack wrote the layer: it declares its own artifacts
			}
			raw, err := ReadFile(root, e.Name(), maxLayerTOML)
			if err != nil {
				continue
			}
			var md struct {
				Types struct{ Launch bool } `toml:"types"`
			}
			if _, err := toml.Decode(string(raw), &md); err == nil && md.Types.Launch {
				out = append(out, ReusedLayer{Buildpack: bp, Layer: layer})
			}
		}
		root.Close()
	}
	return out, nil
}
