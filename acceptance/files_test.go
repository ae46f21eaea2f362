//go:build acceptance

package acceptance_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// openCounter counts the opens of files, through inotify: the exporter
// runs on the host, so the kernel tells each open of the file's inode,
// whoever opens it. Closes are watched too: inotify merges an event with
// the one queued before it when they are the same, so two opens in a row
// would count as one.
type openCounter struct {
	fd    int
	files map[int32]string // watch descriptor -> file
}

func watchOpens(t *testing.T, files ...string) *openCounter {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	must(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	c := &openCounter{fd: fd, files: map[int32]string{}}
	for _, f := range files {
		wd, err := syscall.InotifyAddWatch(fd, f, syscall.IN_OPEN|syscall.IN_CLOSE_NOWRITE)
		must(t, err)
		c.files[int32(wd)] = f
	}
	return c
}

// counts reads the events queued so far: the opens of each file.
func (c *openCounter) counts(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	buf := make([]byte, 64<<10)
	for {
		k, err := syscall.Read(c.fd, buf)
		if err == syscall.EAGAIN {
			return n
		}
		must(t, err)
		for off := 0; off+syscall.SizeofInotifyEvent <= k; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			if mask&syscall.IN_Q_OVERFLOW != 0 {
				t.Fatal("inotify queue overflowed")
			}
			if mask&syscall.IN_OPEN != 0 {
				n[c.files[wd]]++
			}
			off += syscall.SizeofInotifyEvent + nameLen
		}
	}
}

// hookProxy forwards to a registry; hook sees each request first and, when
// it returns a status, answers with it instead.
func hookProxy(t *testing.T, registryHost string, hook func(r *http.Request) int) string {
	t.Helper()
	backend, err := url.Parse("http://" + registryHost)
	must(t, err)
	next := httputil.NewSingleHostReverseProxy(backend)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if code := hook(r); code != 0 {
			rw.WriteHeader(code)
			return
		}
		next.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// countingBody counts the bytes read from a request body and reports them
// once it is read to the end.
type countingBody struct {
	io.ReadCloser
	n    int64
	done func(int64)
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF && b.done != nil {
		b.done(b.n)
		b.done = nil
	}
	return n, err
}

// [R2.5-1] [R2.4-6] Each artifact file is hashed at most once, by
// streaming it, and read anew for each upload; building the artifacts opens
// no file. A proxy in front of the registry answers the first upload of
// each artifact blob (the PUT that ends its session) with 503, so each is
// uploaded again; the proxy counts the uploads of each file (the bodies
// sent) and the kernel the opens of each file (inotify): a file of 2 MiB
// (hashed first) is opened once by validation (the check that it is a
// regular file, R2.4-4, without reading it), once to hash it and once per
// upload; a file of 96 MiB (hashed while it is uploaded) once by validation
// and once per upload.
func TestExportReadsEachFileOncePerUpload(t *testing.T) {
	const bigSize = 96 << 20
	smallContent := bytes.Repeat([]byte("small file\n"), 200000) // 2.2 MB: an upload session, hashed first
	smallDigest := fmt.Sprintf("sha256%%3A%x", sha256.Sum256(smallContent))
	bigDigest := fmt.Sprintf("sha256%%3A%x", sha256.Sum256(make([]byte, bigSize)))
	reg := harness.StartDistribution(t)
	var mu sync.Mutex
	failed := map[string]bool{}
	uploads := map[int64]int{} // bodies of upload PATCHes, by size
	host := hookProxy(t, reg.Host, func(r *http.Request) int {
		if r.Method == http.MethodPatch {
			r.Body = &countingBody{ReadCloser: r.Body, done: func(n int64) {
				mu.Lock()
				defer mu.Unlock()
				uploads[n]++
			}}
		}
		if r.Method != http.MethodPut {
			return 0
		}
		mu.Lock()
		defer mu.Unlock()
		for _, d := range []string{smallDigest, bigDigest} {
			if strings.Contains(r.URL.RawQuery, "digest="+d) && !failed[d] {
				failed[d] = true
				_, _ = io.Copy(io.Discard, r.Body)
				return http.StatusServiceUnavailable
			}
		}
		return 0
	})
	run := fixture.PushRunImage(t, host+"/run")
	toml := "[[artifact]]\ntag = \"small\"\nfile = \"small.txt\"\ntype = \"application/vnd.example.v1\"\n" +
		"[[artifact]]\ntag = \"big\"\nfile = \"big.bin\"\ntype = \"application/vnd.example.v1\"\n"
	// Not a launch layer: the stock exporter would read its files into the
	// app image. Its directory is out.ignore, as lifecycle's builder leaves it.
	bp := fixture.Buildpack{ID: "acme/files", Version: "1.0.0", Layers: []fixture.Layer{{Name: "out",
		Files: map[string][]byte{"artifacts.toml": []byte(toml), "small.txt": smallContent, "big.bin": nil}}}}
	w := fixture.New(t, run, fixture.Plain(), bp)
	dir := filepath.Join(w.Layers, "acme_files", "out.ignore")
	small, big := filepath.Join(dir, "small.txt"), filepath.Join(dir, "big.bin")
	must(t, os.Truncate(big, bigSize))
	opens := watchOpens(t, small, big)

	lc := harness.LifecycleDir(t)
	cmd := exec.Command(harness.Binary(t, "exporter"), append(w.Args(filepath.Join(lc, "launcher")), host+"/app:latest")...)
	cmd.Env = append(w.Env("0.13"), sourceDateEpoch)
	stdout, stderr, code := harness.Run(t, cmd)
	out := stdout + stderr
	if code != 0 {
		t.Fatalf("[R2.5-1] exit %d\n%s", code, out)
	}
	rep := readReport(t, w.Report)
	if len(rep.Artifacts) != 2 {
		t.Fatalf("[R2.5-1] report has %d artifacts, want 2 (small, big)\n%s", len(rep.Artifacts), out)
	}
	mu.Lock()
	if len(failed) != 2 {
		t.Fatalf("[R2.5-1] the proxy failed the upload of %d of the 2 artifact blobs: %v", len(failed), failed)
	}
	smallUploads, bigUploads := uploads[int64(len(smallContent))], uploads[bigSize]
	mu.Unlock()
	if smallUploads < 2 || bigUploads < 2 {
		t.Fatalf("[R2.5-1] small.txt was sent %d times, big.bin %d times: want each at least twice (the first upload refused); upload bodies by size: %v", smallUploads, bigUploads, uploads)
	}
	got := opens.counts(t)
	for _, c := range []struct {
		file string
		want int
		why  string
	}{
		{small, 2 + smallUploads, fmt.Sprintf("validation, hashing and %d uploads", smallUploads)},
		{big, 1 + bigUploads, fmt.Sprintf("validation and %d uploads, the first hashing it", bigUploads)},
	} {
		if got[c.file] != c.want {
			t.Errorf("[R2.5-1] [R2.4-6] %s was opened %d times, want %d (%s): hashed more than once, not read anew for an upload, or opened to build the artifact",
				filepath.Base(c.file), got[c.file], c.want, c.why)
		}
	}
	// The exporter's peak memory, for the record: run alone it stays flat
	// (24–26 MiB for 96 MiB and for 384 MiB, 2026-12-02), but once under
	// make test's parallel load it reached 123 MiB for 96 MiB, as earlier
	// 117 MiB for 96 MiB and 213 MiB for 192 MiB: something holds the file
	// under some timing, which the open count cannot tell. Not asserted
	// until that is explained.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		t.Logf("the exporter's peak memory: %d MiB, for a file of %d MiB", ru.Maxrss>>10, bigSize>>20)
	}
}

// [R2.5-2] A file whose size changes after it was hashed fails the upload:
// a proxy in front of the registry appends to the artifact file when the
// exporter first asks about its blob (a HEAD, sent once the file is hashed
// and before it is uploaded). The export fails, says the file changed, and
// publishes no artifact under the digest of the old bytes.
func TestExportRefusesFileChangedAfterHashing(t *testing.T) {
	reg := harness.StartDistribution(t)
	content := bytes.Repeat([]byte("hashed once\n"), 1000)
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(content))
	var file atomic.Pointer[string] // set once the workspace is laid out

	backend, err := url.Parse("http://" + reg.Host)
	must(t, err)
	next := httputil.NewSingleHostReverseProxy(backend)
	var once sync.Once
	var changed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if p := file.Load(); p != nil && (strings.Contains(r.URL.Path, "/blobs/"+digest) || strings.Contains(r.URL.RawQuery, strings.Replace(digest, ":", "%3A", 1))) {
			once.Do(func() {
				f, err := os.OpenFile(*p, os.O_APPEND|os.O_WRONLY, 0)
				if err == nil {
					_, err = f.WriteString("grown\n")
					f.Close()
				}
				changed.Store(err == nil)
			})
		}
		next.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	run := fixture.PushRunImage(t, host+"/run")
	toml := "[[artifact]]\ntag = \"changing\"\nfile = \"c.txt\"\ntype = \"application/vnd.example.v1\"\n"
	bp := fixture.Buildpack{ID: "acme/changing", Version: "1.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true,
		Files: map[string][]byte{"artifacts.toml": []byte(toml), "c.txt": content}}}}
	w := fixture.New(t, run, fixture.Plain(), bp)
	file.Store(ptr(filepath.Join(w.Layers, "acme_changing", "out", "c.txt")))

	out, code := export(t, w, false, "0.13", nil, host+"/app:latest")
	if !changed.Load() {
		t.Fatalf("[R2.5-2] the exporter never asked the registry about the artifact's blob %s: exit %d\n%s", digest, code, out)
	}
	if code == 0 {
		t.Fatalf("[R2.5-2] the export succeeded although c.txt grew after it was hashed\n%s", out)
	}
	if !strings.Contains(out, "file changed") || !strings.Contains(out, "c.txt") {
		t.Fatalf("[R2.5-2] exit %d, but the error does not say that c.txt changed:\n%s", code, out)
	}
	if _, err := os.Stat(w.Report); err == nil {
		if rep := readReport(t, w.Report); len(rep.Artifacts) > 0 {
			t.Fatalf("[R2.5-2] the report lists artifacts of a failed export: %+v", rep.Artifacts)
		}
	}
}

func ptr[T any](v T) *T { return &v }
