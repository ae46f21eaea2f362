package artifacts

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FileName is the name of the declaration file in a layer directory.
const FileName = "artifacts.toml"

// EscapeID escapes a buildpack ID the way the lifecycle names its layers
// directory (launch.EscapeID): "/" becomes "_".
func EscapeID(id string) string { return strings.ReplaceAll(id, "/", "_") }

// Load reads <layersDir>/<escaped buildpack id>/<layer>/artifacts.toml for
// each buildpack in the given (group) order and each layer directory in
// lexical order. The file is optional. It returns every declaration, or all
// errors found (errors.Join of *DeclarationError, plus any error reading the
// layers directory itself), so that an author can fix them in one go. It
// performs every check that needs no hashing; see the package documentation.
func Load(layersDir string, buildpacks []Buildpack) ([]Declaration, error) {
	absLayers, err := filepath.Abs(layersDir)
	if err != nil {
		return nil, fmt.Errorf("layers directory: %w", err)
	}
	var dirs []buildpackDir
	for _, bp := range buildpacks {
		dirs = append(dirs, buildpackDir{bp: bp, dir: filepath.Join(absLayers, EscapeID(bp.ID)), prefix: EscapeID(bp.ID) + "/"})
	}
	return load(dirs, true)
}

// LoadBuildpack is Load for one buildpack whose own layers directory is
// given, as the buildpack sees it in bin/build (CNB_LAYERS_DIR): it reads
// <layersDir>/<layer>/artifacts.toml. Paths in errors are relative to
// layersDir. Unlike Load, a missing layersDir is an error.
func LoadBuildpack(layersDir string, bp Buildpack) ([]Declaration, error) {
	abs, err := filepath.Abs(layersDir)
	if err != nil {
		return nil, fmt.Errorf("layers directory: %w", err)
	}
	return load([]buildpackDir{{bp: bp, dir: abs}}, false)
}

// buildpackDir is the layers directory of one buildpack; prefix is its path
// relative to the directory messages are relative to ("" or "<id>/").
type buildpackDir struct {
	bp          Buildpack
	dir, prefix string
}

// load reads every layer of dirs; see Load. optional says whether a
// missing buildpack directory means "nothing declared".
func load(dirs []buildpackDir, optional bool) ([]Declaration, error) {
	var (
		decls []Declaration
		errs  []error
	)
	for _, d := range dirs {
		bp, bpDir := d.bp, d.dir
		entries, err := os.ReadDir(bpDir)
		if optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("buildpack %q: reading layers: %w", bp.String(), err))
			continue
		}
		// os.ReadDir sorts by name: layers are read in lexical order.
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			loc := location{
				Buildpack: bp,
				Layer:     layerName(e.Name()),
				LayerDir:  filepath.Join(bpDir, e.Name()),
				Source:    d.prefix + e.Name() + "/" + FileName,
			}
			d, errs2 := loadLayer(loc)
			decls = append(decls, d...)
			errs = append(errs, errs2...)
			if len(decls) > MaxArtifacts {
				// The layers after this one are not read: the export is
				// refused anyway, and the work stays bounded.
				errs = append(errs, loc.errorf(-1, "", fmt.Errorf("%w: this layer brings the export to %d artifacts, more than %d per export", ErrLimit, len(decls), MaxArtifacts)))
				return nil, errors.Join(errs...)
			}
		}
	}
	errs = append(errs, duplicateTags(decls)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return decls, nil
}

// loadLayer reads and checks the artifacts.toml of one layer directory.
func loadLayer(loc location) ([]Declaration, []error) {
	root, err := os.OpenRoot(loc.LayerDir)
	if err != nil {
		return nil, []error{loc.errorf(-1, "", fmt.Errorf("opening the layer directory: %w", err))}
	}
	defer root.Close()

	data, err := readDeclFile(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{loc.errorf(-1, "", err)}
	}

	decls, errs := parse(data, loc)
	for _, d := range decls {
		for _, e := range checkFiles(root, d) {
			errs = append(errs, loc.errorf(d.Index, d.Tag, e))
		}
	}
	// Report in file order: file-level errors, then artifact by artifact.
	slices.SortStableFunc(errs, func(a, b error) int {
		return cmp.Compare(a.(*DeclarationError).Index, b.(*DeclarationError).Index)
	})
	return decls, errs
}

// readDeclFile reads artifacts.toml through root: it must be a regular file
// (a symlink to one inside the layer is fine) of at most maxDeclFileSize
// bytes, opened and read as openRegular says. A missing file is
// fs.ErrNotExist; a dangling symlink is reported.
func readDeclFile(root *os.Root) ([]byte, error) {
	f, _, err := openRegular(root, FileName, maxDeclFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := root.Lstat(FileName); lerr != nil {
			return nil, fs.ErrNotExist
		}
		// A symbolic link to nothing: a declaration that cannot be read,
		// reported rather than taken for no declaration.
		return nil, fmt.Errorf("%s: %w: a symbolic link to a file that does not exist", FileName, ErrInvalidPath)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", FileName, err)
	}
	defer f.Close()
	data, err := readAllLimited(f, maxDeclFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", FileName, err)
	}
	return data, nil
}

// duplicateTags reports every declaration whose tag an earlier declaration
// already uses, naming both.
func duplicateTags(decls []Declaration) []error {
	var errs []error
	first := map[string]Declaration{}
	for _, d := range decls {
		if validateTag(d.Tag) != nil {
			continue // reported already
		}
		if o, ok := first[d.Tag]; ok {
			errs = append(errs, d.location().errorf(d.Index, d.Tag, fmt.Errorf(
				"%w %q: also declared by buildpack %q, layer %q, file %q, artifact %d",
				ErrDuplicateTag, d.Tag, o.Buildpack.String(), o.Layer, o.Source, o.Index+1)))
			continue
		}
		first[d.Tag] = d
	}
	return errs
}

// ignoredSuffix is what lifecycle's builder appends to a layer directory whose
// <layer>.toml sets launch, build and cache all false.
const ignoredSuffix = ".ignore"

// layerName is the name the buildpack gave the layer: a layer that is neither
// launch, build nor cache is still published, under its own name, although
// the builder renamed its directory to <layer>.ignore.
func layerName(dir string) string {
	if n := strings.TrimSuffix(dir, ignoredSuffix); n != "" {
		return n
	}
	return dir
}
