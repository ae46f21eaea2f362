//go:build !linux

package artifacts

import "os"

// fileStatus has no ctime to key on outside Linux: the cache is off.
func fileStatus(os.FileInfo) (cacheEntry, bool) { return cacheEntry{}, false }
