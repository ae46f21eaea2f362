package artifacts

import (
	"os"
	"syscall"
)

// fileStatus returns the cache key of a file's status.
func fileStatus(fi os.FileInfo) (cacheEntry, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return cacheEntry{}, false
	}
	return cacheEntry{
		Dev:   uint64(st.Dev), //nolint:unconvert // int64 on some architectures
		Ino:   st.Ino,
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
	}, true
}
