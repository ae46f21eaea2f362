package artifacts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The digest cache lets an export skip hashing a file that has not changed
// since an earlier export from the same layers directory, so that a blob the
// registry already has costs a HEAD request and no read.
//
// Where it lives: <layers>/.cnb-artifacts/digests.json, one file per layers
// directory. Not inside a layer directory, whose content is part of the
// layer's digest (and, for a launch layer, of the app image's), and not in
// <layer>.toml, which the exporter copies into the image's metadata label.
// The stock lifecycle only reads the layers directory's buildpack
// directories (named after buildpack IDs from group.toml), config/, sbom/ and
// its own files, so a dot-directory is invisible to it; nothing exports or
// caches the layers directory itself, so the file never reaches an image or
// the build cache.
//
// An entry is keyed on the file's path (relative to the layers directory)
// and holds the file's device, inode, size, mtime and ctime, in nanoseconds,
// as they were when the file was read through, and the digest of the bytes
// read. It is used only when all of them still match; otherwise the file is
// read again. ctime is what makes this safe against a file rewritten with its
// mtime put back (touch -d, rsync -t, tar x): every write, chmod, rename onto
// the path or utimes call sets ctime to the current time, and no system call
// sets it to anything else. Entries are stored only for a read that saw the
// same status before and after it, and only when the file's last change is
// older than the racy cutoff (2 s) at the time it was read, so that a write in the same
// timestamp tick as the read (the "racy" case of git's index and of go
// build's file hash cache) cannot go unnoticed.
//
// Residual risk, as for git, go build and rsync's quick check: a file
// changed without its ctime changing. That takes a change of the system
// clock (setting it back to before the recorded ctime), a file system that
// does not keep ctime (some FUSE and network file systems), raw writes to the
// block device, or a shared writable mmap whose dirty pages reach the file
// with a delayed timestamp update. A registry still verifies every uploaded
// blob against its digest, so a wrong cached digest can only make the export
// refer to a blob the registry already holds under that digest; for a blob
// it lacks, the upload fails. Buildpacks can write the cache file (they run
// as the same user), but they also write the files it describes: it gives
// them no power over what they publish that they did not have.
const (
	digestCacheDir  = ".cnb-artifacts"
	digestCacheFile = "digests.json"
	digestCacheVer  = 1
)

// defaultRacyCutoff is how much older than the read a file's last change
// must be for its digest to be stored: 2 s covers the coarsest common
// timestamp granularity (FAT) as go build's cache does.
const defaultRacyCutoff = 2 * time.Second

type cacheEntry struct {
	Dev    uint64  `json:"dev"`
	Ino    uint64  `json:"ino"`
	Size   int64   `json:"size"`
	Mtime  int64   `json:"mtime"`
	Ctime  int64   `json:"ctime"`
	Digest v1.Hash `json:"digest"`
}

type cacheFileJSON struct {
	Version int                   `json:"version"`
	Entries map[string]cacheEntry `json:"entries"`
}

// DigestCache is the digest cache of one layers directory. The caller opens
// it (OpenDigestCache), gives it to Build for every declaration of that
// layers directory, and saves it (Save) once the export has read the files.
// Saving keeps only the entries used or stored since it was loaded, so it
// holds no more entries than the last export declared files. It is safe for
// concurrent use. A nil *DigestCache is a cache that knows nothing.
type DigestCache struct {
	layersDir  string
	racyCutoff time.Duration

	mu      sync.Mutex
	loaded  bool
	problem error // why the cache file was ignored, if it was
	entries map[string]cacheEntry
	used    map[string]bool
	dirty   bool
}

// DigestCacheOption configures a DigestCache.
type DigestCacheOption func(*DigestCache)

// WithRacyCutoff sets how much older than a read a file's last change must
// be for its digest to be stored (default 2 s); tests set it negative to
// cache files they have just written.
func WithRacyCutoff(d time.Duration) DigestCacheOption {
	return func(c *DigestCache) { c.racyCutoff = d }
}

// OpenDigestCache returns the digest cache of layersDir. The cache file is
// read on first use; a missing or unusable file is an empty cache (Problem
// says why it was ignored).
func OpenDigestCache(layersDir string, opts ...DigestCacheOption) *DigestCache {
	c := &DigestCache{layersDir: filepath.Clean(layersDir), racyCutoff: defaultRacyCutoff}
	for _, o := range opts {
		o(c)
	}
	return c
}

// covers reports whether layerDir is inside the cache's layers directory, so
// that its files have a key.
func (c *DigestCache) covers(layerDir string) bool {
	if c == nil || !filepath.IsAbs(layerDir) {
		return false
	}
	r, err := filepath.Rel(c.layersDir, layerDir)
	return err == nil && filepath.IsLocal(r)
}

// Path is the cache file.
func (c *DigestCache) Path() string {
	return filepath.Join(c.layersDir, digestCacheDir, digestCacheFile)
}

func (c *DigestCache) rel(dir string) string {
	r, err := filepath.Rel(c.layersDir, dir)
	if err != nil {
		return dir
	}
	return r
}

// loadLocked reads the cache file once. A missing file is an empty cache.
// The file is the CNB user's, so a buildpack may have replaced it: it is
// opened as openRegularNoFollow says (no symbolic link, no blocking, a
// regular file of at most maxDigestCacheSize bytes) and read through that
// descriptor. A file that fails those checks or does not parse is ignored
// (problem says why) and replaced on save; it never fails or hangs an
// export. Entries that are not sha256 digests are dropped.
func (c *DigestCache) loadLocked() {
	if c.loaded {
		return
	}
	c.loaded = true
	c.entries, c.used = map[string]cacheEntry{}, map[string]bool{}
	data, err := c.read()
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var f cacheFileJSON
	if err == nil {
		if err = json.Unmarshal(data, &f); err == nil && f.Version != digestCacheVer {
			err = fmt.Errorf("version %d, not %d", f.Version, digestCacheVer)
		}
	}
	if err != nil {
		c.problem, c.dirty = err, true
		return
	}
	for k, e := range f.Entries {
		if e.Digest.Algorithm == "sha256" && len(e.Digest.Hex) == 64 {
			c.entries[k] = e
		}
	}
}

func (c *DigestCache) read() ([]byte, error) {
	f, _, err := openRegularNoFollow(c.Path(), maxDigestCacheSize)
	if errors.Is(err, syscall.ELOOP) {
		err = fmt.Errorf("%w: a symbolic link", ErrNotRegular)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f, maxDigestCacheSize)
}

// lookup returns the cached digest of the file at key whose status is fi.
func (c *DigestCache) lookup(key string, fi os.FileInfo) (v1.Hash, bool) {
	st, ok := fileStatus(fi)
	if !ok {
		return v1.Hash{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadLocked()
	e, ok := c.entries[key]
	if !ok || e.Dev != st.Dev || e.Ino != st.Ino || e.Size != st.Size || e.Mtime != st.Mtime || e.Ctime != st.Ctime {
		return v1.Hash{}, false
	}
	c.used[key] = true
	return e.Digest, true
}

// store records digest for the file at key whose status is fi, read from
// start on, unless the file changed less than the racy cutoff before start.
func (c *DigestCache) store(key string, fi os.FileInfo, digest v1.Hash, start time.Time) {
	st, ok := fileStatus(fi)
	if !ok {
		return
	}
	if start.UnixNano()-max(st.Mtime, st.Ctime) < c.racyCutoff.Nanoseconds() {
		return
	}
	st.Digest = digest
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadLocked()
	if old, ok := c.entries[key]; !ok || old != st {
		c.dirty = true
	}
	c.entries[key] = st
	c.used[key] = true
}

// Save writes the cache file atomically if it changed, keeping only the
// entries used since it was loaded, so that the next export from the same
// layers directory need not hash files that did not change. A failure costs
// only speed; callers log it and go on.
func (c *DigestCache) Save() error {
	if c == nil {
		return nil
	}
	if err := c.save(); err != nil {
		return fmt.Errorf("saving the artifacts digest cache %s: %w", c.Path(), err)
	}
	return nil
}

func (c *DigestCache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return nil
	}
	for k := range c.entries {
		if !c.used[k] {
			delete(c.entries, k)
			c.dirty = true
		}
	}
	if !c.dirty {
		return nil
	}
	data, err := json.Marshal(cacheFileJSON{Version: digestCacheVer, Entries: c.entries})
	if err != nil {
		return err
	}
	if len(data) > maxDigestCacheSize {
		return fmt.Errorf("%w: %d bytes, more than %d; not written", ErrLimit, len(data), maxDigestCacheSize)
	}
	dir := filepath.Dir(c.Path())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, digestCacheFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.Path()); err != nil {
		return err
	}
	c.dirty = false
	return nil
}

// Problem says why the cache file was ignored, if it was (see loadLocked),
// naming the file. Callers log it as a warning: the export goes on, hashing
// the files again.
func (c *DigestCache) Problem() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.problem == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", c.Path(), c.problem)
}

// sameFile reports whether a and b are the same file with the same status.
func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := fileStatus(a)
	sb, ok2 := fileStatus(b)
	return ok1 && ok2 && sa == sb
}
