//go:build acceptance

package acceptance_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// TestPackage runs hack/package (what `make package` runs) on the binaries
// of `make package-binaries`, pushing the lifecycle image to a registry,
// then checks the tarballs as pack reads them, runs the binaries of the
// amd64 tarball, and reads the image index back with crane. A second run,
// to an OCI layout, must give the same bytes and the same index digest.
func TestPackage(t *testing.T) {
	lifecycleDir := harness.LifecycleDir(t)
	pkgDir := filepath.Join(filepath.Dir(lifecycleDir), "package")
	platforms := map[string]string{
		"amd64": filepath.Join(pkgDir, "linux-amd64", "lifecycle"),
		"arm64": filepath.Join(pkgDir, "linux-arm64", "lifecycle"),
	}
	for _, d := range platforms {
		if _, err := os.Stat(filepath.Join(d, "lifecycle")); err != nil {
			t.Fatalf("%v (run `make package-binaries`)", err)
		}
	}
	descriptorPath := filepath.Join(lifecycleDir, "lifecycle.toml")
	descriptorRaw, err := os.ReadFile(descriptorPath)
	if err != nil {
		t.Fatal(err)
	}
	var desc struct {
		APIs      map[string]map[string][]string `toml:"apis"`
		Lifecycle struct{ Version string }       `toml:"lifecycle"`
	}
	if _, err := toml.Decode(string(descriptorRaw), &desc); err != nil {
		t.Fatal(err)
	}
	version := desc.Lifecycle.Version

	reg := harness.StartDistribution(t)
	image := reg.Host + "/lifecycle:test"
	out1, out2 := t.TempDir(), t.TempDir()
	packager := func(out string, target ...string) string {
		args := []string{"run", "./hack/package", "-descriptor", descriptorPath, "-out", out,
			"-platform", "linux/amd64=" + platforms["amd64"], "-platform", "linux/arm64=" + platforms["arm64"]}
		cmd := exec.Command("go", append(args, target...)...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		stdout, stderr, code := harness.Run(t, cmd)
		if code != 0 {
			t.Fatalf("hack/package exited %d\n%s\n%s", code, stdout, stderr)
		}
		// Every file it writes is printed with its sha256.
		must(t, filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if line := fmt.Sprintf("> Wrote %s (sha256:%x)\n", p, sha256.Sum256(b)); !strings.Contains(stdout, line) {
				t.Errorf("hack/package did not print %q", strings.TrimSpace(line))
			}
			return nil
		}))
		m := regexp.MustCompile(`(?m)^lifecycle image index digest: (sha256:[0-9a-f]{64})$`).FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("no index digest printed:\n%s", stdout)
		}
		return m[1]
	}
	start := time.Now()
	digest := packager(out1, "-image", image)
	t.Logf("packaged and pushed in %s", time.Since(start).Round(time.Millisecond))
	layoutDigest := packager(out2, "-layout", filepath.Join(out2, "image"))
	if layoutDigest != digest {
		t.Errorf("index digest %s pushed, %s in the layout: not reproducible", digest, layoutDigest)
	}

	names := map[string]string{
		"amd64": "lifecycle-v" + version + ".linux.x86-64.tgz",
		"arm64": "lifecycle-v" + version + ".linux.arm64.tgz",
	}
	for arch, n := range names {
		t.Run("tarball "+arch, func(t *testing.T) {
			b1, err := os.ReadFile(filepath.Join(out1, n))
			if err != nil {
				t.Fatal(err)
			}
			b2, err := os.ReadFile(filepath.Join(out2, n))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b1, b2) {
				t.Errorf("%s differs between two runs", n)
			}
			sum := sha256.Sum256(b1)
			if s, err := os.ReadFile(filepath.Join(out1, n+".sha256")); err != nil || string(s) != hex.EncodeToString(sum[:])+"  "+n+"\n" {
				t.Errorf("%s.sha256 = %q, %v", n, s, err)
			}
			checkTarball(t, b1, descriptorRaw, arch)
		})
	}

	t.Run("run from the amd64 tarball", func(t *testing.T) {
		dir := t.TempDir()
		untarTo(t, filepath.Join(out1, names["amd64"]), dir)
		for bin, want := range map[string]string{"lifecycle": harness.PinnedLifecycleVersion(t), "exporter": version, "creator": version} {
			cmd := exec.Command(filepath.Join(dir, "lifecycle", bin), "-version")
			cmd.Env = append(os.Environ(), "CNB_PLATFORM_API=0.13")
			stdout, stderr, code := harness.Run(t, cmd)
			if code != 0 || strings.TrimSpace(stdout) != want {
				t.Errorf("lifecycle/%s -version: exit %d, %q (want %q) %s", bin, code, stdout, want, stderr)
			}
		}
	})

	t.Run("image", func(t *testing.T) {
		crane := harness.Tool(t, "crane")
		craneOut := func(args ...string) string {
			stdout, stderr, code := harness.Run(t, exec.Command(crane, args...))
			if code != 0 {
				t.Fatalf("crane %v: exit %d: %s", args, code, stderr)
			}
			return stdout
		}
		if got := strings.TrimSpace(craneOut("digest", image)); got != digest {
			t.Errorf("crane digest %s = %s, printed %s", image, got, digest)
		}
		var idx struct {
			MediaType string `json:"mediaType"`
			Manifests []struct {
				MediaType string `json:"mediaType"`
				Platform  struct {
					OS           string `json:"os"`
					Architecture string `json:"architecture"`
				} `json:"platform"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal([]byte(craneOut("manifest", image)), &idx); err != nil {
			t.Fatal(err)
		}
		if idx.MediaType != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("index media type %q", idx.MediaType)
		}
		var plats []string
		for _, m := range idx.Manifests {
			plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
		}
		slices.Sort(plats)
		if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
			t.Errorf("index platforms %v", plats)
		}
		wantAPIs, err := json.Marshal(map[string]map[string][]string{
			"buildpack": {"deprecated": nonNil(desc.APIs["buildpack"]["deprecated"]), "supported": desc.APIs["buildpack"]["supported"]},
			"platform":  {"deprecated": nonNil(desc.APIs["platform"]["deprecated"]), "supported": desc.APIs["platform"]["supported"]},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range plats {
			var cfg struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
				Created      string `json:"created"`
				Config       struct {
					Labels map[string]string `json:"Labels"`
				} `json:"config"`
			}
			if err := json.Unmarshal([]byte(craneOut("config", "--platform", p, image)), &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.OS+"/"+cfg.Architecture != p {
				t.Errorf("%s: config says %s/%s", p, cfg.OS, cfg.Architecture)
			}
			if cfg.Created != "1980-01-01T00:00:01Z" {
				t.Errorf("%s: created %q", p, cfg.Created)
			}
			if got := cfg.Config.Labels["io.buildpacks.lifecycle.version"]; got != version {
				t.Errorf("%s: version label %q, want %q", p, got, version)
			}
			var gotAPIs, want any
			if err := json.Unmarshal([]byte(cfg.Config.Labels["io.buildpacks.lifecycle.apis"]), &gotAPIs); err != nil {
				t.Errorf("%s: apis label: %v", p, err)
			}
			_ = json.Unmarshal(wantAPIs, &want)
			if g, w := mustJSON(gotAPIs), mustJSON(want); g != w {
				t.Errorf("%s: apis label %s, want %s", p, g, w)
			}
			if !strings.Contains(cfg.Config.Labels["io.buildpacks.builder.metadata"], `"version":"`+version+`"`) {
				t.Errorf("%s: builder metadata label %q", p, cfg.Config.Labels["io.buildpacks.builder.metadata"])
			}
		}
		// The filesystem of the amd64 image.
		fs := craneOut("export", "--platform", "linux/amd64", image, "-")
		tr := tar.NewReader(strings.NewReader(fs))
		seen := map[string]*tar.Header{}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			seen[strings.TrimSuffix(h.Name, "/")] = h
		}
		for _, p := range []string{"cnb/lifecycle.toml", "cnb/lifecycle/lifecycle", "cnb/lifecycle/launcher",
			"cnb/lifecycle/lifecycle-artifacts", "cnb/lifecycle/analyzer", "cnb/lifecycle/restorer", "cnb/lifecycle/exporter",
			"cnb/lifecycle/creator", "tmp", "etc/passwd", "etc/group"} {
			if seen[p] == nil {
				t.Errorf("image lacks /%s", p)
			}
		}
		for _, f := range sbomFiles() {
			p := "cnb/lifecycle/" + f
			if seen[p] == nil {
				t.Errorf("image lacks /%s", p)
			}
		}
		if h := seen["tmp"]; h != nil && h.Mode&0o7777 != 0o1777 {
			t.Errorf("/tmp mode %o, want 1777", h.Mode&0o7777)
		}
		if h := seen["cnb/lifecycle/exporter"]; h != nil && h.Linkname != "lifecycle-artifacts" {
			t.Errorf("/cnb/lifecycle/exporter links to %q", h.Linkname)
		}
	})
}

// checkTarball checks the layout of a release tarball as pack 0.38 reads
// it: lifecycle.toml at the root (archive.ReadTarEntry), the phases under
// one directory (^[^/]+/([^/]+)$), as upstream's tools/packager lays it
// out; normalized owners and times; binaries for the architecture.
func checkTarball(t *testing.T, tgz, descriptorRaw []byte, arch string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	files := map[string][]byte{}
	links := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)) {
			t.Errorf("%s: owner %d:%d %q:%q, mtime %s", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		case tar.TypeSymlink:
			links[h.Name] = h.Linkname
		}
	}
	want := []string{"lifecycle/analyzer", "lifecycle/builder", "lifecycle/creator", "lifecycle/detector", "lifecycle/exporter",
		"lifecycle/extender", "lifecycle/launcher", "lifecycle/lifecycle", "lifecycle/lifecycle-artifacts",
		"lifecycle/rebaser", "lifecycle/restorer"}
	for _, f := range sbomFiles() {
		want = append(want, "lifecycle/"+f)
	}
	slices.Sort(want)
	want = append([]string{"lifecycle.toml", "lifecycle/"}, want...)
	if !slices.Equal(names, want) {
		t.Errorf("entries\n%q\nwant\n%q", names, want)
	}
	if !bytes.Equal(files["lifecycle.toml"], descriptorRaw) {
		t.Errorf("lifecycle.toml differs from out/lifecycle/lifecycle.toml")
	}
	phase := regexp.MustCompile(`^[^/]+/([^/]+)$`)
	found := map[string]bool{}
	for _, n := range names {
		if m := phase.FindStringSubmatch(n); m != nil {
			found[m[1]] = true
		}
	}
	for _, p := range []string{"detector", "restorer", "analyzer", "builder", "exporter", "launcher", "creator"} {
		if !found[p] {
			t.Errorf("pack would fail: did not find %q in tar", p)
		}
	}
	for _, p := range []string{"exporter", "creator"} {
		if links["lifecycle/"+p] != "lifecycle-artifacts" {
			t.Errorf("lifecycle/%s links to %q, want lifecycle-artifacts", p, links["lifecycle/"+p])
		}
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	for _, bin := range []string{"lifecycle/lifecycle", "lifecycle/launcher", "lifecycle/lifecycle-artifacts"} {
		f, err := elf.NewFile(bytes.NewReader(files[bin]))
		if err != nil {
			t.Errorf("%s: %v", bin, err)
			continue
		}
		if f.Machine != machine {
			t.Errorf("%s is for %s, want %s", bin, f.Machine, machine)
		}
	}
	checkTarballSBOMs(t, files, arch)
}

// sbomBinaries have SBOMs in the distribution, with upstream's names
// (lifecycle's Makefile: syft -o json=…sbom.syft.json -o spdx-json=…
// -o cyclonedx-json=…), where upstream's exporter reads them.
var sbomBinaries = []string{"lifecycle", "launcher", "lifecycle-artifacts"}

// sbomFiles are the SBOM file names in lifecycle/, e.g. launcher.sbom.cdx.json.
func sbomFiles() []string {
	var out []string
	for _, b := range sbomBinaries {
		for _, s := range []string{"sbom.cdx.json", "sbom.spdx.json", "sbom.syft.json"} {
			out = append(out, b+"."+s)
		}
	}
	return out
}

// checkTarballSBOMs checks the SBOMs a tarball carries: each format says
// what it is, each describes the binary of this tarball (by digest and
// architecture), and the generator (out/sbom-gen, what `make
// package-binaries` runs) gives the same bytes again from those binaries.
func checkTarballSBOMs(t *testing.T, files map[string][]byte, arch string) {
	t.Helper()
	gen := filepath.Join(filepath.Dir(harness.LifecycleDir(t)), "sbom-gen")
	dir := t.TempDir()
	for _, bin := range sbomBinaries {
		b := files["lifecycle/"+bin]
		if err := os.WriteFile(filepath.Join(dir, bin), b, 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		var syftDoc struct {
			Source struct {
				Name     string
				Metadata struct {
					Digests []struct{ Algorithm, Value string }
				}
			}
			Artifacts []struct {
				Name     string
				Version  string
				Metadata struct{ Architecture string }
			}
		}
		if err := json.Unmarshal(files["lifecycle/"+bin+".sbom.syft.json"], &syftDoc); err != nil {
			t.Errorf("%s.sbom.syft.json: %v", bin, err)
			continue
		}
		if d := syftDoc.Source.Metadata.Digests; syftDoc.Source.Name != bin || len(d) != 1 || d[0].Value != hex.EncodeToString(sum[:]) {
			t.Errorf("%s.sbom.syft.json describes %q %v, not this tarball's %s (sha256:%x)", bin, syftDoc.Source.Name, d, bin, sum)
		}
		var lifecycleModule bool
		for _, a := range syftDoc.Artifacts {
			if a.Name == "github.com/buildpacks/lifecycle" && a.Version == "v"+harness.PinnedLifecycleVersion(t) {
				lifecycleModule = true
			}
			if a.Metadata.Architecture != "" && a.Metadata.Architecture != arch {
				t.Errorf("%s.sbom.syft.json: %s is for %s", bin, a.Name, a.Metadata.Architecture)
			}
		}
		if !lifecycleModule {
			t.Errorf("%s.sbom.syft.json lacks github.com/buildpacks/lifecycle v%s", bin, harness.PinnedLifecycleVersion(t))
		}
		var cdx struct{ BOMFormat, SerialNumber string }
		if err := json.Unmarshal(files["lifecycle/"+bin+".sbom.cdx.json"], &cdx); err != nil || cdx.BOMFormat != "CycloneDX" || cdx.SerialNumber == "" {
			t.Errorf("%s.sbom.cdx.json: %+v, %v", bin, cdx, err)
		}
		var spdx struct{ SPDXVersion, DocumentNamespace string }
		if err := json.Unmarshal(files["lifecycle/"+bin+".sbom.spdx.json"], &spdx); err != nil || !strings.HasPrefix(spdx.SPDXVersion, "SPDX-") || spdx.DocumentNamespace == "" {
			t.Errorf("%s.sbom.spdx.json: %+v, %v", bin, spdx, err)
		}
	}
	stdout, stderr, code := harness.Run(t, exec.Command(gen, filepath.Join(dir, "lifecycle"), filepath.Join(dir, "launcher"), filepath.Join(dir, "lifecycle-artifacts")))
	if code != 0 {
		t.Fatalf("%s exited %d\n%s\n%s", gen, code, stdout, stderr)
	}
	for _, f := range sbomFiles() {
		again, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, files["lifecycle/"+f]) {
			t.Errorf("%s: generated again from the same binary, it differs: not reproducible", f)
		}
	}
}

func untarTo(t *testing.T, tgzPath, dir string) {
	t.Helper()
	cmd := exec.Command("tar", "-xzf", tgzPath, "-C", dir)
	if _, stderr, code := harness.Run(t, cmd); code != 0 {
		t.Fatalf("untar: %s", stderr)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
