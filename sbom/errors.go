package sbom

import (
	"errors"
	"fmt"
)

// Sentinel errors; every *FormatError and every error of Find wraps one of them (or an error of
// the os package, such as fs.ErrNotExist), so callers can branch with
// errors.Is.
var (
	// ErrNotRegular: the SBOM path is a symbolic link, a FIFO, a directory
	// or another non-regular file.
	ErrNotRegular = errors.New("not a regular file")
	// ErrNotDir: a directory of sbom/launch is a symbolic link, a file or
	// another non-directory.
	ErrNotDir = errors.New("not a directory")
	// ErrLimit: a file, the number of files or their total size is over a
	// limit (MaxFileSize, MaxSources, MaxTotalSize).
	ErrLimit = errors.New("over the limit")
	// ErrInvalid: the file is not a valid document of its format (invalid
	// JSON, or another format under this format's name).
	ErrInvalid = errors.New("invalid SBOM document")
)

// FormatError is a problem with one format's SBOMs: the document of that
// format cannot be made. Source is the file at fault when there is one
// (Source.Path is empty otherwise).
type FormatError struct {
	Format Format
	Source Source
	Err    error
}

// Error names the format, and the buildpack, layer and file when known:
//
//	SBOM format cdx: buildpack "<id>@<version>", layer "<layer>", file "<path>": <what is wrong>
func (e *FormatError) Error() string {
	if e.Source.Path == "" {
		return fmt.Sprintf("SBOM format %s: %v", e.Format.Name, e.Err)
	}
	return fmt.Sprintf("SBOM format %s: %s: %v", e.Format.Name, e.Source, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }
