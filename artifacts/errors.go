package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Sentinel errors. Every *DeclarationError matches ErrInvalid; the error it
// wraps matches one of the more specific sentinels below (or fs.ErrNotExist
// for a missing file), so callers can branch with errors.Is.
var (
	// ErrInvalid matches every *DeclarationError: the buildpack declared an
	// artifact that cannot be published.
	ErrInvalid = errors.New("invalid artifact declaration")

	ErrSyntax            = errors.New("malformed TOML")
	ErrUnknownKey        = errors.New("unknown key")
	ErrMissingField      = errors.New("missing required field")
	ErrInvalidTag        = errors.New("invalid tag")
	ErrDuplicateTag      = errors.New("duplicate tag")
	ErrInvalidLabels     = errors.New("invalid labels")
	ErrInvalidMediaType  = errors.New("invalid media type")
	ErrInvalidAnnotation = errors.New("invalid annotation")
	ErrInvalidTitle      = errors.New("invalid title")
	ErrInvalidPath       = errors.New("invalid path")
	ErrPathEscapes       = errors.New("path leaves the layer directory")
	ErrNotRegular        = errors.New("not a regular file")
)

// DeclarationError is a problem with one artifacts.toml file or one
// [[artifact]] in it. It names the buildpack, the layer and the file, and the
// artifact when known (Index >= 0).
type DeclarationError struct {
	Buildpack Buildpack
	Layer     string
	// File is the artifacts.toml path relative to the layers directory.
	File string
	// Tag is the artifact's tag; it may be empty.
	Tag string
	// Index is the 0-based position of the [[artifact]] in File, or -1 when
	// the error concerns the whole file. Messages count from 1.
	Index int
	Err   error
	// Fix says how to fix the error, when there is one fix; empty otherwise.
	// Load sets it from the kind of Err (see fixFor).
	Fix string
}

// Error formats every declaration error the same way:
//
//	buildpack "<id>@<version>", layer "<layer>"[ (directory <layer>.ignore: …)], file "<path>": [artifact <n> (tag "<tag>"): ]<what is wrong>[; fix: <how>]
func (e *DeclarationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "buildpack %q, layer %q", e.Buildpack.String(), e.Layer)
	if dir := path.Base(path.Dir(e.File)); dir == e.Layer+ignoredSuffix {
		fmt.Fprintf(&b, " (directory %s: %s)", dir, IgnoredLayerNote)
	}
	fmt.Fprintf(&b, ", file %q: ", e.File)
	if e.Index >= 0 {
		fmt.Fprintf(&b, "artifact %d", e.Index+1)
		if e.Tag != "" {
			fmt.Fprintf(&b, " (tag %q)", e.Tag)
		}
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// IgnoredLayerNote explains a layer directory named <layer>.ignore.
const IgnoredLayerNote = "the builder renames a layer whose launch, build and cache are all false; " +
	"its artifacts are still published, its files stay out of the image"

// fixFor returns the one way to fix an error of this kind, or "". Errors
// whose message already says what is wanted (tags, media types, unknown
// keys) get none.
func fixFor(err error) string {
	switch {
	case errors.Is(err, ErrDuplicateTag):
		return "give each [[artifact]] of the build its own tag"
	case errors.Is(err, ErrPathEscapes):
		return "copy the file into the layer directory and name it by a path relative to it"
	case errors.Is(err, ErrNotRegular):
		return "name a regular file (a symbolic link to one inside the layer directory works)"
	case errors.Is(err, fs.ErrNotExist):
		return "write the file into the layer directory before bin/build exits, or correct the path (relative to the layer directory)"
	}
	return ""
}

func (e *DeclarationError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalid.
func (e *DeclarationError) Is(target error) bool { return target == ErrInvalid }

// String returns "id@version" (or just the ID when the version is empty).
func (b Buildpack) String() string {
	if b.Version == "" {
		return b.ID
	}
	return b.ID + "@" + b.Version
}

// location is where a declaration comes from.
type location struct {
	Buildpack Buildpack
	Layer     string
	LayerDir  string
	Source    string
}

func (l location) errorf(index int, tag string, err error) *DeclarationError {
	return &DeclarationError{Buildpack: l.Buildpack, Layer: l.Layer, File: l.Source, Tag: tag, Index: index, Err: err, Fix: fixFor(err)}
}

// ErrFileChanged is returned by a Blob's reader when its file changed size
// between hashing and reading.
var ErrFileChanged = errors.New("file changed")
