package harness

import (
	"bufio"
	"cmp"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// trivySBOMFound is the line Trivy v0.74.0 logs when it read an SBOM from
// the image's OCI referrers (pkg/fanal/artifact/image/remote_sbom.go); its
// type="..." attribute names the format it decoded.
const (
	trivySBOMFound    = "Found SBOM in the OCI referrers"
	trivySBOMRejected = "Error with SBOM via OCI referrers"
)

// TrivyImageArgs are the flags TrivyScanImage gives `trivy image`: read the
// image from the registry only (no Docker, containerd or Podman socket),
// take its packages from an SBOM referrer when there is one
// (--sbom-sources oci), and run the license scanner only, so that neither
// the vulnerability DB nor the Java DB is downloaded. JSON output lists
// every package (--list-all-pkgs is its default).
var TrivyImageArgs = []string{
	"image",
	"--image-src", "remote",
	"--sbom-sources", "oci",
	"--scanners", "license",
	"--format", "json",
	"--skip-db-update", "--skip-java-db-update", "--offline-scan",
	"--skip-version-check", "--disable-telemetry",
	"--no-progress",
}

// Trivy runs tools/bin/trivy with args, offline: a fresh cache directory
// (TRIVY_CACHE_DIR), an empty Docker config (no credential helpers), no
// inherited TRIVY_* variables, and every proxy variable pointing at a proxy
// on 127.0.0.1 that refuses and records what it is asked. Go never proxies
// a loopback address, so the registries under test are reached directly,
// while any request Trivy makes to another host (ghcr.io, mirror.gcr.io,
// the version check, telemetry) reaches the proxy and fails the test.
// It returns Trivy's stdout, stderr and exit code; a missing binary fails
// the test.
func Trivy(t testing.TB, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	bin := Tool(t, "trivy")
	sb := newOfflineSandbox(t, "TRIVY_")
	cmd := exec.Command(bin, args...)
	cmd.Dir = sb.home
	cmd.Env = append(sb.env, "TRIVY_CACHE_DIR="+filepath.Join(sb.home, "cache"))
	stdout, stderr, exitCode = Run(t, cmd)
	sb.check(t, "trivy", stderr)
	return stdout, stderr, exitCode
}

// offlineSandbox is where a client under test (Trivy, cosign) runs
// offline: a fresh HOME and TMPDIR, an empty Docker config (no credential
// helpers), none of the inherited variables that would change what it
// does (its own prefixes, proxies, home, Docker config), and every proxy
// variable pointing at guard, which refuses and records what it is asked:
// Go never proxies a loopback address, so the registries under test are
// reached directly, while a request to any other host fails.
type offlineSandbox struct {
	home  string
	env   []string
	guard *offlineGuard
}

func newOfflineSandbox(t testing.TB, dropPrefixes ...string) offlineSandbox {
	t.Helper()
	guard := startOfflineGuard(t)
	home := t.TempDir()
	dockerConfig := filepath.Join(home, "docker")
	if err := os.Mkdir(dockerConfig, 0o755); err != nil {
		t.Fatal(err)
	}
	env := slices.DeleteFunc(slices.Clone(os.Environ()), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HOME", "TMPDIR", "DOCKER_CONFIG", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY":
			return true
		}
		for _, p := range dropPrefixes {
			if strings.HasPrefix(strings.ToUpper(k), p) {
				return true
			}
		}
		return false
	})
	env = append(env,
		"HOME="+home,
		"TMPDIR="+home,
		"DOCKER_CONFIG="+dockerConfig,
		"HTTP_PROXY=http://"+guard.host, "HTTPS_PROXY=http://"+guard.host,
		"http_proxy=http://"+guard.host, "https_proxy=http://"+guard.host,
		"NO_PROXY=", "no_proxy=",
	)
	return offlineSandbox{home: home, env: env, guard: guard}
}

// check fails the test when the tool asked the guard for anything.
func (sb offlineSandbox) check(t testing.TB, tool, stderr string) {
	t.Helper()
	if asked := sb.guard.requests(); len(asked) > 0 {
		t.Errorf("%s tried to reach the network beyond loopback: %q\nstderr:\n%s", tool, asked, stderr)
	}
}

// TrivyPackage is one package of Trivy's JSON report.
type TrivyPackage struct {
	Name, Version, PURL string
}

// TrivyScan is what `trivy image` reported for an image.
type TrivyScan struct {
	// SBOMFormat is the format of the SBOM referrer Trivy read ("cyclonedx",
	// "spdx"), or "" when it found none and scanned the image's layers.
	SBOMFormat string
	// Packages are every package of every result, sorted by name, version
	// and purl.
	Packages []TrivyPackage
	// Rejected are Trivy's warnings about SBOM referrers it could not use
	// (wrong layer media type, unparsable document, ...).
	Rejected []string
	Stderr   string
}

// TrivyScanImage runs `trivy image` with TrivyImageArgs on ref (a plain-HTTP
// registry on 127.0.0.1, by tag or digest) and parses its report. A
// non-zero exit or an unreadable report fails the test.
func TrivyScanImage(t testing.TB, ref string) TrivyScan {
	t.Helper()
	stdout, stderr, code := Trivy(t, append(slices.Clone(TrivyImageArgs), ref)...)
	if code != 0 {
		t.Fatalf("trivy image %s: exit %d\n%s", ref, code, stderr)
	}
	scan, err := parseTrivyScan([]byte(stdout), stderr)
	if err != nil {
		t.Fatalf("trivy image %s: %v\nstdout:\n%s\nstderr:\n%s", ref, err, stdout, stderr)
	}
	return scan
}

// TrivySBOMPackages returns the packages Trivy reads from ref's SBOM
// referrers, and the format of the SBOM it read. It fails the test unless
// Trivy read one without rejecting any: a referrer Trivy cannot use makes
// it fall back to scanning the image's layers, which must not pass for
// reading the SBOM.
func TrivySBOMPackages(t testing.TB, ref string) (format string, pkgs []TrivyPackage) {
	t.Helper()
	scan := TrivyScanImage(t, ref)
	if len(scan.Rejected) > 0 {
		t.Errorf("trivy rejected SBOM referrers of %s:\n%s", ref, strings.Join(scan.Rejected, "\n"))
	}
	if scan.SBOMFormat == "" {
		t.Fatalf("trivy found no SBOM among the referrers of %s\nstderr:\n%s", ref, scan.Stderr)
	}
	return scan.SBOMFormat, scan.Packages
}

// trivyReport is the part of Trivy's JSON report (types.Report) read here.
type trivyReport struct {
	Results []struct {
		Target   string
		Packages []struct {
			Name, Version string
			Identifier    struct{ PURL string }
		}
	}
}

func parseTrivyScan(stdout []byte, stderr string) (TrivyScan, error) {
	var report trivyReport
	if err := json.Unmarshal(stdout, &report); err != nil {
		return TrivyScan{}, err
	}
	scan := TrivyScan{Stderr: stderr, Packages: []TrivyPackage{}}
	for _, r := range report.Results {
		for _, p := range r.Packages {
			scan.Packages = append(scan.Packages, TrivyPackage{Name: p.Name, Version: p.Version, PURL: p.Identifier.PURL})
		}
	}
	slices.SortFunc(scan.Packages, func(a, b TrivyPackage) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), cmp.Compare(a.PURL, b.PURL))
	})
	lines := bufio.NewScanner(strings.NewReader(stderr))
	lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for lines.Scan() {
		line := lines.Text()
		switch {
		case strings.Contains(line, trivySBOMFound):
			scan.SBOMFormat = logAttr(line, "type")
		case strings.Contains(line, trivySBOMRejected):
			scan.Rejected = append(scan.Rejected, line)
		}
	}
	return scan, lines.Err()
}

// logAttr returns the value of key="value" in a Trivy log line.
func logAttr(line, key string) string {
	_, rest, ok := strings.Cut(line, key+`="`)
	if !ok {
		return ""
	}
	value, _, _ := strings.Cut(rest, `"`)
	return value
}

// offlineGuard is an HTTP proxy on 127.0.0.1 that answers every request,
// CONNECT included, with 403 and records it.
type offlineGuard struct {
	host string
	mu   sync.Mutex
	seen []string
}

func startOfflineGuard(t testing.TB) *offlineGuard {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("offline guard: %v", err)
	}
	g := &offlineGuard{host: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.seen = append(g.seen, r.Method+" "+cmp.Or(r.Host, r.URL.Host)+r.URL.Path)
		g.mu.Unlock()
		http.Error(w, "acceptance tests run offline", http.StatusForbidden)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return g
}

func (g *offlineGuard) requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.seen)
}
