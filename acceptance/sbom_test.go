//go:build acceptance

package acceptance_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// TestExportSBOMs exports with the packaged lifecycle where platforms put
// it, /cnb/lifecycle: the amd64 release tarball that hack/package writes is
// unpacked into a root directory the exporter runs chrooted into (upstream's
// exporter reads the lifecycle's SBOMs from /cnb/lifecycle, whatever
// -launcher says). At platform API 0.13, stock `lifecycle export` and our
// exporter must both print no "Did not find SBOM", give the same image
// digest, put the launcher's SBOMs in the app image's SBOM layer and the
// lifecycle's SBOMs in <layers>/sbom/build, byte for byte as shipped.
func TestExportSBOMs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root, to chroot the exporter into a root with /cnb/lifecycle: run the acceptance tests as root, as CI does")
	}
	lifecycleDir := harness.LifecycleDir(t)
	amd64Dir := filepath.Join(filepath.Dir(lifecycleDir), "package", "linux-amd64", "lifecycle")
	if _, err := os.Stat(filepath.Join(amd64Dir, "lifecycle")); err != nil {
		t.Fatalf("%v (run `make package-binaries`)", err)
	}

	// The packaged lifecycle, as pack installs a builder's: /cnb/lifecycle.
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./hack/package", "-descriptor", filepath.Join(lifecycleDir, "lifecycle.toml"),
		"-out", out, "-platform", "linux/amd64="+amd64Dir, "-layout", filepath.Join(out, "image"))
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if stdout, stderr, code := harness.Run(t, cmd); code != 0 {
		t.Fatalf("hack/package exited %d\n%s\n%s", code, stdout, stderr)
	}
	tgz, err := filepath.Glob(filepath.Join(out, "lifecycle-v*.linux.x86-64.tgz"))
	if err != nil || len(tgz) != 1 {
		t.Fatalf("tarball: %v %v", tgz, err)
	}
	root := t.TempDir()
	for _, d := range []string{"cnb", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	untarTo(t, tgz[0], filepath.Join(root, "cnb"))
	cnb := filepath.Join(root, "cnb", "lifecycle")

	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	w := fixture.NewAt(t, filepath.Join(root, "workspace"), run, fixture.Plain())
	// Host paths as the chrooted exporter sees them.
	inRoot := func(s string) string { return strings.ReplaceAll(s, root+"/", "/") }

	digests := map[string]string{}
	for _, stock := range []bool{true, false} {
		which := map[bool]string{true: "stock", false: "ours"}[stock]
		t.Run(which, func(t *testing.T) {
			// Each run copies the SBOMs afresh.
			if err := os.RemoveAll(filepath.Join(w.Layers, "sbom")); err != nil {
				t.Fatal(err)
			}
			img := reg.Host + "/sbom:" + which
			args := []string{"-layers", w.Layers, "-app", w.App, "-launcher", "/cnb/lifecycle/launcher",
				"-group", filepath.Join(w.Layers, "group.toml"), "-analyzed", filepath.Join(w.Layers, "analyzed.toml"),
				"-report", w.Report, img}
			bin := "/cnb/lifecycle/exporter"
			if stock {
				bin, args = "/cnb/lifecycle/lifecycle", append([]string{"export"}, args...)
			}
			for i := range args {
				args[i] = inRoot(args[i])
			}
			cmd := exec.Command(bin, args...)
			cmd.Path = bin // resolved inside the chroot
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
			env := append(w.Env("0.13"), sourceDateEpoch)
			for i := range env {
				env[i] = inRoot(env[i])
			}
			cmd.Env = env
			stdout, stderr, code := harness.Run(t, cmd)
			output := stdout + stderr
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, output)
			}
			if strings.Contains(output, "Did not find SBOM") {
				t.Errorf("the exporter misses SBOMs:\n%s", output)
			}

			// <layers>/sbom/build/buildpacksio_lifecycle/sbom.<ext>: the
			// lifecycle's SBOMs, for the platform to keep.
			for _, ext := range []string{"sbom.cdx.json", "sbom.spdx.json", "sbom.syft.json"} {
				got, err := os.ReadFile(filepath.Join(w.Layers, "sbom", "build", "buildpacksio_lifecycle", ext))
				if err != nil {
					t.Errorf("build SBOM: %v", err)
					continue
				}
				if !bytes.Equal(got, mustRead(t, filepath.Join(cnb, "lifecycle."+ext))) {
					t.Errorf("<layers>/sbom/build/buildpacksio_lifecycle/%s differs from /cnb/lifecycle/lifecycle.%s", ext, ext)
				}
			}

			// The app image's SBOM layer has the launcher's SBOMs.
			files, digest := harness.SBOMLayer(t, img)
			digests[which] = digest
			for _, ext := range []string{"sbom.cdx.json", "sbom.spdx.json", "sbom.syft.json"} {
				p := "/workspace/layers/sbom/launch/buildpacksio_lifecycle/launcher/" + ext
				got, ok := files[p]
				if !ok {
					t.Errorf("the SBOM layer of %s lacks %s; it has %v", img, p, keys(files))
					continue
				}
				if !bytes.Equal(got, mustRead(t, filepath.Join(cnb, "launcher."+ext))) {
					t.Errorf("%s in the image differs from /cnb/lifecycle/launcher.%s", p, ext)
				}
			}
		})
	}
	if digests["stock"] != digests["ours"] {
		t.Errorf("image digest: stock %s, ours %s", digests["stock"], digests["ours"])
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
