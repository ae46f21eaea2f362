package sbom

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// LifecycleID is the buildpack ID lifecycle files its own SBOMs under
// (sbom/launch/buildpacksio_lifecycle/launcher), and the ID Find gives the
// launcher's sources.
const LifecycleID = "buildpacksio/lifecycle"

// LauncherLayer is the layer name of the launcher's sources.
const LauncherLayer = "launcher"

// launchDir is where the builder files the launch SBOMs, relative to the
// layers directory.
const launchDir = "sbom/launch"

// Source is one SBOM file that contributes to a merged document.
type Source struct {
	// Buildpack wrote the file; the launcher's files have LifecycleID and
	// the lifecycle's version.
	Buildpack artifacts.Buildpack
	// Layer is the layer the SBOM describes: "" for a buildpack-level SBOM
	// (launch.sbom.<ext>.json), LauncherLayer for the launcher's.
	Layer  string
	Format Format
	// Dir is the directory Path is relative to: the layers directory, or
	// the launcher's SBOM directory. Merge reads the file through an
	// os.Root at Dir.
	Dir string
	// Path is the file, slash-separated, relative to Dir.
	Path string
}

// Ref names the source in annotations: <id>@<version> for a
// buildpack-level SBOM, <id>@<version>:<layer> for a layer's.
func (s Source) Ref() string {
	if s.Layer == "" {
		return s.Buildpack.String()
	}
	return s.Buildpack.String() + ":" + s.Layer
}

// String names the buildpack, the layer and the file, for messages.
func (s Source) String() string {
	return fmt.Sprintf("buildpack %q, layer %q, file %q", s.Buildpack.String(), s.Layer, s.Path)
}

// Launcher says where the launcher's SBOMs are, as the exporter's
// -launcher-sbom input does.
type Launcher struct {
	// Dir holds the launcher's SBOMs; "" for none.
	Dir string
	// Custom is true when Dir is a platform-provided directory: as
	// upstream copies them, every file whose name ends in sbom.<ext>.json
	// counts. Otherwise (lifecycle's own /cnb/lifecycle) only
	// launcher.sbom.<ext>.json does.
	Custom bool
	// Version is the lifecycle's version, for the sources' Buildpack.
	Version string
}

// EscapeID is lifecycle's launch.EscapeID: the directory name of a
// buildpack ID under sbom/launch.
func EscapeID(id string) string { return strings.ReplaceAll(id, "/", "_") }

// Find lists the launch SBOMs of an export: for each buildpack of group (the
// group.toml order), its buildpack-level SBOMs, then its layers' SBOMs by
// layer name; then the launcher's, from launcher. Within a layer the
// sources are in Formats order.
//
// Find reads directories only; it lists an entry by its name, whatever its
// type, so that Merge, which opens each file once and checks it on the open
// descriptor, reports a symbolic link or a FIFO against its format. A
// directory under sbom/launch that is no group buildpack's is ignored (no
// buildpack of this build wrote it), and so is buildpacksio_lifecycle: the
// launcher's SBOMs come from launcher, and upstream's exporter copies them
// there after Find runs. The error joins the problems with directories
// (a symbolic link where a directory should be, too many entries); each
// names the buildpack and the path, and concerns every format. The sources
// found are returned with it.
func Find(layersDir string, group []artifacts.Buildpack, launcher Launcher) ([]Source, error) {
	var (
		sources []Source
		errs    []error
	)
	root, err := os.OpenRoot(layersDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	entries, err := readDir(root, launchDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		entries = nil
	case err != nil:
		return nil, fmt.Errorf("layers directory: %s: %w", launchDir, err)
	}
	byName := map[string]fs.DirEntry{}
	for _, e := range entries {
		byName[e.Name()] = e
	}
	seen := map[string]bool{EscapeID(LifecycleID): true}
	for _, bp := range group {
		esc := EscapeID(bp.ID)
		e, ok := byName[esc]
		if !ok || seen[esc] {
			continue
		}
		seen[esc] = true
		bpDir := path.Join(launchDir, esc)
		if !e.IsDir() {
			errs = append(errs, fmt.Errorf("buildpack %q: %q: %w: %s", bp.String(), bpDir, ErrNotDir, describe(e.Type())))
			continue
		}
		found, err := findBuildpack(root, layersDir, bpDir, bp)
		sources = append(sources, found...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if launcher.Dir != "" {
		found, err := findLauncher(launcher)
		sources = append(sources, found...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(sources) > MaxSources {
		errs = append(errs, fmt.Errorf("%w: %d SBOM files, more than %d", ErrLimit, len(sources), MaxSources))
		sources = sources[:MaxSources]
	}
	return sources, errors.Join(errs...)
}

func findBuildpack(root *os.Root, layersDir, bpDir string, bp artifacts.Buildpack) ([]Source, error) {
	entries, err := readDir(root, bpDir)
	if err != nil {
		return nil, fmt.Errorf("buildpack %q: %q: %w", bp.String(), bpDir, err)
	}
	var (
		sources []Source
		errs    []error
	)
	add := func(layer, dir string, names []string) {
		for _, f := range Formats {
			if slices.Contains(names, f.Ext) {
				sources = append(sources, Source{Buildpack: bp, Layer: layer, Format: f, Dir: layersDir, Path: path.Join(dir, f.Ext)})
			}
		}
	}
	var top, layers []string
	for _, e := range entries {
		switch {
		case isSBOMName(e.Name()):
			top = append(top, e.Name())
		case e.IsDir():
			layers = append(layers, e.Name())
		case e.Type()&fs.ModeSymlink != 0:
			errs = append(errs, fmt.Errorf("buildpack %q, layer %q: %q: %w: %s", bp.String(), e.Name(), path.Join(bpDir, e.Name()), ErrNotDir, describe(e.Type())))
		}
	}
	add("", bpDir, top)
	slices.Sort(layers)
	for _, l := range layers {
		dir := path.Join(bpDir, l)
		entries, err := readDir(root, dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("buildpack %q, layer %q: %q: %w", bp.String(), l, dir, err))
			continue
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		add(l, dir, names)
	}
	return sources, errors.Join(errs...)
}

func findLauncher(l Launcher) ([]Source, error) {
	root, err := os.OpenRoot(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("launcher SBOM directory: %w", err)
	}
	defer root.Close()
	entries, err := readDir(root, ".")
	if err != nil {
		return nil, fmt.Errorf("launcher SBOM directory %s: %w", l.Dir, err)
	}
	bp := artifacts.Buildpack{ID: LifecycleID, Version: l.Version}
	var sources []Source
	for _, f := range Formats {
		for _, e := range entries { // sorted by name
			name := e.Name()
			if l.Custom && strings.HasSuffix(name, f.Ext) && !e.IsDir() || !l.Custom && name == "launcher."+f.Ext {
				sources = append(sources, Source{Buildpack: bp, Layer: LauncherLayer, Format: f, Dir: l.Dir, Path: name})
			}
		}
	}
	return sources, nil
}

// fromLauncher reports whether s is one of the launcher's SBOMs, which
// come from a directory the platform provides, not a buildpack.
func (s Source) fromLauncher() bool {
	return s.Buildpack.ID == LifecycleID && s.Layer == LauncherLayer
}

func isSBOMName(name string) bool {
	_, ok := formatByExt(name)
	return ok
}

// maxDirEntries bounds the entries Find reads from one directory.
const maxDirEntries = MaxSources

// readDir lists a directory through root, without following a symbolic
// link in its last element, at most maxDirEntries entries, sorted by name.
func readDir(root *os.Root, name string) ([]fs.DirEntry, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrNotDir, describe(fi.Mode().Type()))
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(maxDirEntries + 1)
	if err != nil && len(entries) == 0 && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(entries) > maxDirEntries {
		return nil, fmt.Errorf("%w: more than %d entries", ErrLimit, maxDirEntries)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file"
}
