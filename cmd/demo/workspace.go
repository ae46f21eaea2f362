package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// workspace is what a platform mounts into the build container, on the host:
//
//	<dir>/app/                            copy of samples/app
//	<dir>/buildpacks/<id with _>/<version>/  copies of the sample buildpacks
//	<dir>/order.toml, <dir>/run.toml
//	<dir>/layers/  <dir>/cache/  <dir>/platform/
//	<dir>/launcher-sbom/                  the launcher's SBOMs (-launcher-sbom)
type workspace struct {
	dir, app, buildpacks, layers, cache, platform string
	order, runTOML, report                        string
	launcherSBOM                                  string
	buildpackIDs                                  []string
	uid, gid                                      int
	platformAPI                                   string
	sbom                                          bool // CNB_ARTIFACTS_SBOM=referrers
}

type buildpackTOML struct {
	API       string `toml:"api"`
	Buildpack struct {
		ID      string `toml:"id"`
		Version string `toml:"version"`
	} `toml:"buildpack"`
}

func newWorkspace(o options, runImage string) (*workspace, error) {
	dir := o.workDir
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "cnb-artifacts-demo-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	// The build runs as the CNB user, who must reach everything here.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	w := &workspace{
		dir: dir, app: filepath.Join(dir, "app"), buildpacks: filepath.Join(dir, "buildpacks"),
		layers: filepath.Join(dir, "layers"), cache: filepath.Join(dir, "cache"), platform: filepath.Join(dir, "platform"),
		order: filepath.Join(dir, "order.toml"), runTOML: filepath.Join(dir, "run.toml"),
		launcherSBOM: filepath.Join(dir, "launcher-sbom"),
		platformAPI:  o.platformAPI, sbom: o.sbom,
	}
	w.report = filepath.Join(w.layers, "report.toml")
	if w.uid, w.gid, err = buildUser(o.uid, o.gid); err != nil {
		return nil, err
	}
	for _, d := range []string{w.app, w.buildpacks, w.layers, w.cache, w.platform, w.launcherSBOM} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	if err := copyTree(o.appDir, w.app); err != nil {
		return nil, fmt.Errorf("copying the app: %w", err)
	}
	var order strings.Builder
	order.WriteString("[[order]]\n")
	for _, src := range o.buildpackDirs {
		var bp buildpackTOML
		if _, err := toml.DecodeFile(filepath.Join(src, "buildpack.toml"), &bp); err != nil {
			return nil, err
		}
		dst := filepath.Join(w.buildpacks, strings.ReplaceAll(bp.Buildpack.ID, "/", "_"), bp.Buildpack.Version)
		if err := copyTree(src, dst); err != nil {
			return nil, fmt.Errorf("copying buildpack %s: %w", bp.Buildpack.ID, err)
		}
		fmt.Fprintf(&order, "\n  [[order.group]]\n    id = %q\n    version = %q\n", bp.Buildpack.ID, bp.Buildpack.Version)
		w.buildpackIDs = append(w.buildpackIDs, bp.Buildpack.ID+"@"+bp.Buildpack.Version)
	}
	if err := os.WriteFile(w.order, []byte(order.String()), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.runTOML, []byte(fmt.Sprintf("[[images]]\n  image = %q\n", runImage)), 0o644); err != nil {
		return nil, err
	}
	for _, d := range []string{w.layers, w.cache, w.platform} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// runCreator runs the creator on the host and streams its output to out.
// It returns the creator's exit code.
func (w *workspace) runCreator(ctx context.Context, creator, image string, out io.Writer) (int, error) {
	lifecycleDir := filepath.Dir(creator)
	args := []string{
		"-app", w.app,
		"-buildpacks", w.buildpacks,
		"-order", w.order,
		"-run", w.runTOML,
		"-layers", w.layers,
		"-cache-dir", w.cache,
		"-platform", w.platform,
		"-launcher", filepath.Join(lifecycleDir, "launcher"),
		"-report", w.report,
		"-uid", strconv.Itoa(w.uid), "-gid", strconv.Itoa(w.gid),
		"-log-level", "info",
	}
	n, err := w.copyLauncherSBOMs(lifecycleDir)
	if err != nil {
		return 1, fmt.Errorf("the launcher's SBOMs: %w", err)
	}
	if n > 0 {
		args = append(args, "-launcher-sbom", w.launcherSBOM)
		// Upstream's exporter reads lifecycle's own build SBOMs
		// (lifecycle.sbom.<ext>.json, for <layers>/sbom/build) from
		// /cnb/lifecycle only, which this host has not.
		fmt.Fprintf(out, "  (the launcher's SBOMs from %s; lifecycle's build SBOMs are read from /cnb/lifecycle only: its \"Did not find SBOM lifecycle.sbom.*\" warnings are expected here)\n", lifecycleDir)
	}
	args = append(args, image)
	cmd := exec.CommandContext(ctx, creator, args...)
	cmd.Dir = w.dir
	// lifecycle-artifacts on PATH, so that a buildpack's bin/build can run
	// `lifecycle-artifacts validate` as it would /cnb/lifecycle/lifecycle-artifacts.
	cmd.Env = append(withPath(cleanEnv(), lifecycleDir),
		"CNB_PLATFORM_API="+w.platformAPI,
		"CNB_USER_ID="+strconv.Itoa(w.uid),
		"CNB_GROUP_ID="+strconv.Itoa(w.gid),
	)
	shown := "CNB_PLATFORM_API=" + w.platformAPI
	if w.sbom {
		cmd.Env = append(cmd.Env, sbomInput)
		shown += " " + sbomInput
	}
	pw := indent(out) // one writer: exec serializes its writes
	cmd.Stdout, cmd.Stderr = pw, pw
	fmt.Fprintf(out, "  $ %s %s %s\n", shown, creator, strings.Join(args, " "))
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), fmt.Errorf("exit status %d", exit.ExitCode())
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// sbomInput turns the SBOM referrers on (-sbom).
const sbomInput = "CNB_ARTIFACTS_SBOM=referrers"

// launcherSBOMFormats are the extensions of the SBOMs `make build` writes
// beside the launcher (launcher.sbom.<ext>.json), the names upstream's
// exporter looks for in /cnb/lifecycle.
var launcherSBOMFormats = []string{"cdx", "spdx", "syft"}

// copyLauncherSBOMs copies the launcher's SBOMs from lifecycleDir into
// w.launcherSBOM and returns how many there were. The creator's
// -launcher-sbom copies every *.sbom.<ext>.json of that directory into the
// image as the launcher's SBOM, so the directory holds the launcher's only
// (out/lifecycle also has lifecycle's and lifecycle-artifacts'); as in a
// builder's /cnb/lifecycle, the launcher's SBOMs then describe the launcher
// in the app image instead of "Did not find SBOM launcher.sbom.<ext>.json".
func (w *workspace) copyLauncherSBOMs(lifecycleDir string) (int, error) {
	n := 0
	for _, ext := range launcherSBOMFormats {
		name := "launcher.sbom." + ext + ".json"
		b, err := os.ReadFile(filepath.Join(lifecycleDir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, err
		}
		if err := os.MkdirAll(w.launcherSBOM, 0o755); err != nil {
			return n, err
		}
		if err := os.WriteFile(filepath.Join(w.launcherSBOM, name), b, 0o644); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// cleanEnv is this process's environment without CNB_* variables, which
// would override the flags above.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CNB_") || strings.HasPrefix(kv, "CNB_REGISTRY_AUTH=") {
			env = append(env, kv)
		}
	}
	return env
}

// withPath appends dir to PATH in env.
func withPath(env []string, dir string) []string {
	for i, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + p + string(os.PathListSeparator) + dir
			return env
		}
	}
	return append(env, "PATH=/usr/local/bin:/usr/bin:/bin"+string(os.PathListSeparator)+dir)
}

// buildUser picks CNB_USER_ID and CNB_GROUP_ID. The detector and builder
// refuse root, and the creator looks the user up (HOME), so as root it
// takes uid 1000 or another non-root user of /etc/passwd.
func buildUser(uid, gid int) (int, int, error) {
	users := passwd()
	if uid < 0 {
		if os.Getuid() != 0 {
			uid = os.Getuid()
		} else {
			uid = -1
			if _, ok := users[1000]; ok {
				uid = 1000
			} else {
				var ids []int
				for id := range users {
					if id >= 1000 {
						ids = append(ids, id)
					}
				}
				sort.Ints(ids)
				if len(ids) > 0 {
					uid = ids[0]
				}
			}
			if uid < 0 {
				return 0, 0, errors.New("no non-root user in /etc/passwd for the build: add one (useradd -u 1000 cnb) or pass -uid")
			}
		}
	}
	if uid == 0 {
		return 0, 0, errors.New("the build cannot run as root (lifecycle's detector and builder refuse it): pass -uid")
	}
	if gid < 0 {
		if g, ok := users[uid]; ok {
			gid = g
		} else {
			gid = uid
		}
	}
	return uid, gid, nil
}

// passwd maps the uids of /etc/passwd to their primary gids.
func passwd() map[int]int {
	users := map[int]int{}
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return users
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(s.Text(), ":")
		if len(fields) < 4 {
			continue
		}
		u, err1 := strconv.Atoi(fields[2])
		g, err2 := strconv.Atoi(fields[3])
		if err1 == nil && err2 == nil {
			users[u] = g
		}
	}
	return users
}

// copyTree copies a directory of files, directories and symlinks; files and
// directories become readable by everyone, executables stay executable.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if filepath.Ext(p) == ".go" { // samples/ also holds its Go test
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			return os.MkdirAll(target, 0o755)
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case fi.Mode().IsRegular():
			mode := os.FileMode(0o644)
			if fi.Mode()&0o111 != 0 {
				mode = 0o755
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, mode); err != nil {
				return err
			}
			return os.Chmod(target, mode)
		default:
			return fmt.Errorf("%s: not a file, directory or link", p)
		}
	})
}

func hostArch() string { return runtime.GOARCH }

var epoch = time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)

// tarOf is an uncompressed tar of the files, sorted, with fixed metadata.
func tarOf(files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	dirs := map[string]bool{}
	for _, n := range names {
		for d := filepath.Dir(n); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return nil, err
			}
		}
		c := files[n]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(c)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(c)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// indent prefixes each line written to w with "  │ ".
func indent(w io.Writer) io.Writer { return &prefixWriter{w: w, prefix: "  │ ", bol: true} }

type prefixWriter struct {
	w      io.Writer
	prefix string
	bol    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if p.bol {
			out = append(out, p.prefix...)
			p.bol = false
		}
		out = append(out, c)
		if c == '\n' {
			p.bol = true
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// describeCreator says whose creator lifecycleDir has, and the version of
// its lifecycle.toml.
func describeCreator(lifecycleDir string) (kind, version string) {
	kind = "upstream's creator: it publishes no artifacts"
	if target, err := os.Readlink(filepath.Join(lifecycleDir, "creator")); err == nil && filepath.Base(target) == "lifecycle-artifacts" {
		kind = "ours: lifecycle-artifacts, which exports with the artifacts"
	}
	var d struct {
		Lifecycle struct {
			Version string `toml:"version"`
		} `toml:"lifecycle"`
	}
	version = "unknown"
	if _, err := toml.DecodeFile(filepath.Join(lifecycleDir, "lifecycle.toml"), &d); err == nil && d.Lifecycle.Version != "" {
		version = d.Lifecycle.Version
	}
	return kind, version
}
