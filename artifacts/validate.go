package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Annotation keys the exporter sets itself.
const (
	AnnotationCreated          = "org.opencontainers.image.created"
	AnnotationTitle            = "org.opencontainers.image.title"
	AnnotationPrefix           = "io.buildpacks.artifact."
	AnnotationBuildpackID      = AnnotationPrefix + "buildpack.id"
	AnnotationBuildpackVersion = AnnotationPrefix + "buildpack.version"
	AnnotationLayer            = AnnotationPrefix + "layer"
	// AnnotationTag is the tag the buildpack declared (before the platform's
	// tag template), so that an export can find the artifacts of a previous
	// image by buildpack, layer and tag.
	AnnotationTag = AnnotationPrefix + "tag"
	// AnnotationImageID records the app image's ID when the artifact has no
	// subject: a daemon export, whose image has no registry digest.
	AnnotationImageID = AnnotationPrefix + "image.id"
)

// Published reports whether a manifest's annotations mark it as an artifact
// this exporter published: it carries the buildpack and the layer. Tag
// ownership, the discovery of a previous image's artifacts and carrying
// them all decide by this one rule.
func Published(annotations map[string]string) bool {
	return annotations[AnnotationBuildpackID] != "" && annotations[AnnotationLayer] != ""
}

// validate performs the checks of one declaration that need no file system.
func validate(d Declaration) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	if d.Tag == "" {
		add(fmt.Errorf("%w: tag", ErrMissingField))
	} else {
		add(validateTag(d.Tag))
	}

	if d.ConfigMediaType != "" {
		add(labelError("labels.ConfigMediaType", validateMediaType(d.ConfigMediaType)))
	}
	switch {
	case d.ArtifactType == "":
		add(fmt.Errorf("%w: type (the artifactType), required when labels.ConfigMediaType is not set", ErrMissingField))
	case d.ArtifactType != d.ConfigMediaType:
		add(labelError("type", validateMediaType(d.ArtifactType)))
	}

	if d.Config != nil {
		if d.ConfigMediaType == "" {
			add(fmt.Errorf("%w: labels.ConfigMediaType, required with config %q", ErrMissingField, d.Config.Path))
		}
		add(validatePath("config", d.Config.Path))
	}

	if len(d.Files) == 0 {
		add(fmt.Errorf("%w: file (or [[artifact.files]])", ErrMissingField))
	}
	if len(d.Files) > MaxFilesPerArtifact {
		add(fmt.Errorf("%w: %d files, more than %d per artifact", ErrLimit, len(d.Files), MaxFilesPerArtifact))
		return errs // the files are not checked one by one
	}
	titles := map[string]int{}
	mediaTypes := map[string]bool{}
	for i, f := range d.Files {
		if err := validatePath("file", f.Path); err != nil {
			add(err)
			continue
		}
		if !mediaTypes[f.MediaType] {
			mediaTypes[f.MediaType] = true
			add(labelError(fmt.Sprintf("file %q", f.Path), validateMediaType(f.MediaType)))
		}
		if err := validateTitle(f.Title); err != nil {
			add(fmt.Errorf("file %q: %w", f.Path, err))
			continue
		}
		if j, ok := titles[f.Title]; ok {
			add(fmt.Errorf("file %q: %w %q: also the title of file %q; set a distinct `title`", f.Path, ErrInvalidTitle, f.Title, d.Files[j].Path))
			continue
		}
		titles[f.Title] = i
	}

	size := 0
	for k, v := range d.Annotations {
		size += len(k) + len(v)
	}
	if size > MaxAnnotationBytes {
		add(fmt.Errorf("%w: [artifact.annotations] holds %d bytes, more than %d", ErrLimit, size, MaxAnnotationBytes))
		return errs
	}
	for k := range sortedKeys(d.Annotations) {
		add(validateAnnotationKey(k))
	}
	return errs
}

func labelError(field string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", field, err)
}

// validatePath checks the syntax of a path: relative, inside the layer.
func validatePath(field, p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: %s path", ErrMissingField, field)
	case path.IsAbs(p) || filepath.IsAbs(p) || filepath.VolumeName(p) != "":
		return fmt.Errorf("%s %q: %w: absolute; paths are relative to the layer directory", field, p, ErrInvalidPath)
	case p == "..", strings.HasPrefix(p, "../"):
		return fmt.Errorf("%s %q: %w", field, p, ErrPathEscapes)
	case p == ".":
		return fmt.Errorf("%s %q: %w: it is the layer directory itself", field, p, ErrNotRegular)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%s %q: %w: contains a NUL byte", field, p, ErrInvalidPath)
	}
	return nil
}

// validateTitle checks that a title is a plain relative slash-separated name
// that a client such as oras may use as a file name.
func validateTitle(t string) error {
	if t == "" || !fs.ValidPath(t) || t == "." || strings.ContainsAny(t, "\\\x00") {
		return fmt.Errorf("%w %q: want a relative name without \"..\", \".\" or empty elements", ErrInvalidTitle, t)
	}
	return nil
}

func validateAnnotationKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("%w: empty key", ErrInvalidAnnotation)
	case k == AnnotationCreated:
		return fmt.Errorf("%w %q: reserved; the exporter sets it to the build's creation time", ErrInvalidAnnotation, k)
	case k == AnnotationTitle:
		return fmt.Errorf("%w %q: reserved; use `title` in [[artifact.files]]", ErrInvalidAnnotation, k)
	case strings.HasPrefix(k, AnnotationPrefix):
		return fmt.Errorf("%w %q: the prefix %q is reserved for the exporter", ErrInvalidAnnotation, k, AnnotationPrefix)
	}
	return nil
}

// checkFiles checks through root that the config and every file exist and
// are regular files inside the layer directory. Paths whose syntax is invalid
// are skipped: validate reports them.
func checkFiles(root *os.Root, d Declaration) []error {
	var errs []error
	if d.Config != nil && validatePath("config", d.Config.Path) == nil {
		if err := checkRegular(root, d.Config.Path, MaxConfigSize); err != nil {
			errs = append(errs, fmt.Errorf("config %q: %w%s", d.Config.Path, err, layersDirReading(root, d, d.Config.Path, err)))
		}
	}
	if len(d.Files) > MaxFilesPerArtifact {
		return errs // validate reported it
	}
	for _, f := range d.Files {
		if validatePath("file", f.Path) != nil {
			continue
		}
		if err := checkRegular(root, f.Path, noSizeLimit); err != nil {
			errs = append(errs, fmt.Errorf("file %q: %w%s", f.Path, err, layersDirReading(root, d, f.Path, err)))
		}
	}
	return errs
}

// layersDirReading explains a missing path that the RFC's wording ("a file
// relative to the current $LAYERS_DIR") would have found: one that starts
// with the layer's directory name, the rest of which names a file of the
// layer (docs/spec.md 2.6). It returns "" otherwise.
func layersDirReading(root *os.Root, d Declaration, p string, err error) string {
	rest, ok := strings.CutPrefix(p, filepath.Base(d.LayerDir)+"/")
	if !ok || !errors.Is(err, fs.ErrNotExist) || checkRegular(root, rest, noSizeLimit) != nil {
		return ""
	}
	return fmt.Sprintf(" (paths are relative to the layer directory, not to $CNB_LAYERS_DIR: write %q)", rest)
}

// checkRegular opens p through root as openRegular does (following symlinks
// only inside root, without blocking, checked on the descriptor: a regular
// file of at most limit bytes, or noSizeLimit) and closes it: a FIFO cannot
// block, and a file the CNB user cannot read (a hard link to someone else's
// file, say) is refused here, before anything is pushed. The file is checked
// again when it is read, since the buildpack's user may change it in
// between.
func checkRegular(root *os.Root, p string, limit int64) error {
	f, _, err := openRegular(root, p, limit)
	if err != nil {
		return err
	}
	return f.Close()
}

// statError maps the errors of os.Root to the package's errors.
func statError(root *os.Root, err error) error {
	switch {
	case isEscape(root, err):
		return fmt.Errorf("%w (through a symbolic link)", ErrPathEscapes)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w in the layer directory", fs.ErrNotExist)
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("%w: too many levels of symbolic links", ErrInvalidPath)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isEscape reports whether err is os.Root's "path escapes from parent"
// error, which is not exported: the same error is obtained lexically.
func isEscape(root *os.Root, err error) bool {
	_, probe := root.Stat("/")
	var pe *fs.PathError
	if !errors.As(probe, &pe) {
		return false
	}
	return errors.Is(err, pe.Err)
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "type " + m.Type().String()
}
