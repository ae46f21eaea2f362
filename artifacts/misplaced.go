package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/buildpacks/lifecycle/log"
)

// Misplaced is a declaration file that Load will not read: an artifacts.toml
// directly in a buildpack's layers directory or in a nested directory of a
// layer, or a file whose name is artifacts.toml with another case or
// extension (artifact.toml, Artifacts.toml, artifacts.yaml).
type Misplaced struct {
	Buildpack Buildpack
	// Path is the file, relative to the directory Load's messages are
	// relative to, slash-separated.
	Path string
	// Want is where the exporter looks instead.
	Want string
	// Why says why the file is not read.
	Why string
}

func (m Misplaced) String() string {
	return fmt.Sprintf("buildpack %q: %s is not read (%s); the exporter reads %s", m.Buildpack.String(), m.Path, m.Why, m.Want)
}

// Bounds of the search for nested declaration files in a layer, so that a
// layer with a large tree (node_modules) costs the export little.
const (
	maxNestedDepth   = 3    // directories below the layer directory
	maxNestedEntries = 5000 // entries looked at per layer
)

// FindMisplaced looks, for each buildpack of Load's layers directory, for
// declaration files that Load will not read.
func FindMisplaced(layersDir string, buildpacks []Buildpack) []Misplaced {
	var out []Misplaced
	for _, bp := range buildpacks {
		out = append(out, findMisplaced(buildpackDir{bp: bp, dir: filepath.Join(layersDir, EscapeID(bp.ID)), prefix: EscapeID(bp.ID) + "/"})...)
	}
	return out
}

// FindMisplacedBuildpack is FindMisplaced for one buildpack's own layers
// directory, as LoadBuildpack reads it.
func FindMisplacedBuildpack(layersDir string, bp Buildpack) []Misplaced {
	return findMisplaced(buildpackDir{bp: bp, dir: layersDir})
}

// WarnMisplaced logs one warning per misplaced declaration file.
func WarnMisplaced(logger log.Logger, found []Misplaced) {
	for _, m := range found {
		logger.Warn(m.String())
	}
}

func findMisplaced(d buildpackDir) []Misplaced {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil // Load reports what matters
	}
	isDir := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			isDir[e.Name()] = true
		}
	}
	var out []Misplaced
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, misplacedInLayer(d, e.Name())...)
			continue
		}
		if !declLike(e.Name()) {
			continue
		}
		// <layer>.toml next to a <layer> directory is that layer's metadata.
		if isDir[strings.TrimSuffix(e.Name(), path.Ext(e.Name()))] {
			continue
		}
		out = append(out, Misplaced{
			Buildpack: d.bp,
			Path:      d.prefix + e.Name(),
			Want:      d.prefix + "<layer>/" + FileName,
			Why:       "it is directly in the buildpack's layers directory, where the lifecycle takes it for the metadata of a layer; write it into the layer directory whose files it declares",
		})
	}
	return out
}

// misplacedInLayer finds declaration-like files in layer directory name
// other than its artifacts.toml: another spelling at its top, any at depth.
func misplacedInLayer(d buildpackDir, name string) []Misplaced {
	root := filepath.Join(d.dir, name)
	want := d.prefix + name + "/" + FileName
	var out []Misplaced
	seen := 0
	errStop := errors.New("stop")
	_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if seen++; seen > maxNestedEntries {
			return errStop
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		depth := strings.Count(rel, "/")
		if e.IsDir() {
			if rel != "." && depth >= maxNestedDepth {
				return fs.SkipDir
			}
			return nil
		}
		if !declLike(e.Name()) || rel == FileName {
			return nil
		}
		m := Misplaced{Buildpack: d.bp, Path: d.prefix + name + "/" + rel, Want: want}
		if depth == 0 {
			m.Why = "the exporter reads only the name " + FileName + ", in lower case"
		} else {
			m.Why = "it is in a nested directory of the layer; paths in " + FileName + " are relative to the layer directory"
		}
		out = append(out, m)
		return nil
	})
	return out
}

// declLike reports whether a file name is artifacts.toml or looks like a
// misspelling of it: artifact or artifacts, in any case, with the extension
// .toml, .tml, .yaml, .yml or .json.
func declLike(name string) bool {
	ext := path.Ext(name)
	switch strings.ToLower(ext) {
	case ".toml", ".tml", ".yaml", ".yml", ".json":
	default:
		return false
	}
	stem := strings.ToLower(strings.TrimSuffix(name, ext))
	return stem == "artifacts" || stem == "artifact"
}
