package artifacts

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Every file the exporter reads under the layers directory belongs to the
// CNB user, so a buildpack may have put anything there: a FIFO (opening it
// for reading would block until a writer comes), a symbolic link to
// /dev/zero (endless), a huge file, or a regular file that becomes one of
// those between a check and the read. So each is opened once, without
// blocking, checked on the open descriptor (regular, within its size
// limit), and read through that same descriptor, never by name again.

// noSizeLimit is the limit of a file that is streamed, not held in memory.
const noSizeLimit = -1

// openRegular opens name (slash-separated) through root, following
// symbolic links only where they stay inside root, without blocking. It
// fails unless the open file is a regular file of at most limit bytes
// (noSizeLimit: any size).
func openRegular(root *os.Root, name string, limit int64) (*os.File, os.FileInfo, error) {
	f, err := root.OpenFile(filepath.FromSlash(name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, statError(root, err)
	}
	fi, err := checkOpen(f, limit)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// openRegularNoFollow opens path without following a symbolic link in its
// last element, without blocking, with the checks of openRegular.
func openRegularNoFollow(path string, limit int64) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := checkOpen(f, limit)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func checkOpen(f *os.File, limit int64) (os.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s", ErrNotRegular, describeMode(fi.Mode()))
	}
	if limit != noSizeLimit && fi.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrLimit, fi.Size(), limit)
	}
	return fi, nil
}

// readAllLimited reads f to its end, failing if it holds more than limit
// bytes (it may have grown since it was checked).
func readAllLimited(f *os.File, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrLimit, limit)
	}
	return data, nil
}

// ReadFile reads name (slash-separated) through root as openRegular opens
// it: a regular file of at most limit bytes, without blocking. For files of
// the layers directory other than declarations, such as a <layer>.toml.
func ReadFile(root *os.Root, name string, limit int64) ([]byte, error) {
	f, _, err := openRegular(root, name, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f, limit)
}
