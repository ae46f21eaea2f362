package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/api"
	"github.com/buildpacks/lifecycle/cmd"
	lplatform "github.com/buildpacks/lifecycle/platform"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// runExport runs the export command in this process as the exporter binary
// would (Args, Privileges, Exec) on workspace w, naming the app image
// names. The command's own flags are set as the fixture's Args give them.
func runExport(t *testing.T, w *fixture.Workspace, names ...string) error {
	t.Helper()
	return runExportWith(t, w, nil, names...)
}

// runExportWith is runExport with the command's inputs changed by set
// before Args (nil: none).
func runExportWith(t *testing.T, w *fixture.Workspace, set func(e *exportCmd), names ...string) error {
	t.Helper()
	launcher := filepath.Join(w.Dir, "launcher")
	if err := os.WriteFile(launcher, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newExportCmd("0.13")
	e.LayersDir, e.AppDir, e.LauncherPath = w.Layers, w.App, launcher
	e.GroupPath, e.AnalyzedPath, e.ReportPath = filepath.Join(w.Layers, "group.toml"), filepath.Join(w.Layers, "analyzed.toml"), w.Report
	e.RunPath = filepath.Join(w.Dir, "run.toml")
	e.UID, e.GID = os.Getuid(), os.Getgid()
	if set != nil {
		set(e)
	}
	if err := e.Args(len(names), names); err != nil {
		return err
	}
	// As the CNB user, who is this test's user (root, dropping to itself).
	if err := e.Privileges(); err != nil {
		return err
	}
	return e.Exec()
}

// The export command end to end, in process, against an in-process
// registry: the artifacts of the samples are published and reported, the
// summary logged; under policy off none is read; an invalid declaration
// fails with exit 63 before anything is written; no image name is an
// argument error. Not parallel: the environment and the logger are the
// process's.
func TestExportCommand(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the export drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	run := fixture.PushRunImage(t, host+"/run")
	buf := captureLog(t)
	// At debug level, so that what is logged only there is seen too.
	if err := cmd.DefaultLogger.SetLevel("debug"); err != nil {
		t.Fatal(err)
	}
	bad := fixture.Buildpack{ID: "acme/bad", Version: "1.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true,
		Files: map[string][]byte{"artifacts.toml": []byte("[[artifact]]\ntag = \"-bad\"\nfile = \"a.txt\"\ntype = \"application/vnd.example\"\n"), "a.txt": []byte("a")}}}}

	var layoutDir string // the layout case's
	for _, tc := range []struct {
		name   string
		policy string
		bps    []fixture.Buildpack
		names  []string
		code   int      // exit code of a failure, 0 for none; -1 any
		tags   []string // the artifacts reported
		env    map[string]string
		says   string // in the error
		setup  func(t *testing.T, w *fixture.Workspace)
		set    func(e *exportCmd)
	}{
		{name: "artifacts published", bps: fixture.Samples(), names: []string{host + "/app:latest", host + "/app:v1"}, tags: []string{"wasm", "0.1.0", "junit"}},
		{name: "policy off", policy: "off", bps: append(fixture.Samples(), bad), names: []string{host + "/off:latest"}},
		{name: "invalid declaration", bps: []fixture.Buildpack{bad}, names: []string{host + "/bad:latest"}, code: platform.CodeInvalidArtifacts},
		{name: "bad policy", policy: "sometimes", names: []string{host + "/app:latest"}, code: cmd.CodeForInvalidArgs},
		{name: "no image name", code: cmd.CodeForInvalidArgs},
		{name: "analyzed.toml unreadable", names: []string{host + "/app:latest"}, code: -1, says: "failed to read analyzed file", setup: func(t *testing.T, w *fixture.Workspace) {
			if err := os.WriteFile(filepath.Join(w.Layers, "analyzed.toml"), []byte("[run-image\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "layout", names: []string{"example.com/app:latest"}, env: map[string]string{"CNB_EXPERIMENTAL_MODE": "warn"}, bps: fixture.Samples(),
			tags: []string{"wasm", "0.1.0", "junit"}, setup: func(t *testing.T, w *fixture.Workspace) {
				// lifecycle parses layout paths as image references: lower case.
				dir, err := os.MkdirTemp("", "layout")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(dir) })
				layoutDir = dir
				runRef := fixture.WriteRunImageLayout(t, dir, "example.com/run:latest")
				analyzed := fmt.Sprintf("[run-image]\n  reference = %q\n  image = \"example.com/run:latest\"\n", runRef)
				if err := os.WriteFile(filepath.Join(w.Layers, "analyzed.toml"), []byte(analyzed), 0o644); err != nil {
					t.Fatal(err)
				}
			}, set: func(e *exportCmd) { e.UseLayout, e.LayoutDir = true, layoutDir }},
		{name: "layout is experimental", names: []string{host + "/app:latest"}, code: -1, says: "experimental features are disabled", env: map[string]string{"CNB_EXPERIMENTAL_MODE": "error"},
			set: func(e *exportCmd) { e.UseLayout, e.LayoutDir = true, t.TempDir() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(platform.EnvPolicy, tc.policy)
			// lifecycle reads CNB_EXPERIMENTAL_MODE once, into a variable.
			saved := lplatform.ExperimentalMode
			t.Cleanup(func() { lplatform.ExperimentalMode = saved })
			if m := tc.env["CNB_EXPERIMENTAL_MODE"]; m != "" {
				lplatform.ExperimentalMode = m
			}
			buf.Reset()
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, tc.bps...)...)
			if tc.setup != nil {
				tc.setup(t, w)
			}
			err := runExportWith(t, w, tc.set, tc.names...)
			if tc.code == -1 && err == nil {
				t.Fatalf("succeeded\n%s", buf.String())
			}
			if tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
				t.Fatalf("got %v, want an error saying %q", err, tc.says)
			}
			if tc.code > 0 {
				var fail *cmd.ErrorFail
				if !errors.As(err, &fail) || fail.Code != tc.code {
					t.Fatalf("got %v, want exit code %d\n%s", err, tc.code, buf.String())
				}
			}
			if tc.code != 0 {
				if _, err := os.Stat(w.Report); err == nil {
					t.Fatal("report.toml written on failure")
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			var rep platform.Report
			if _, err := toml.DecodeFile(w.Report, &rep); err != nil {
				t.Fatal(err)
			}
			var tags []string
			for _, a := range rep.Artifacts {
				tags = append(tags, a.Tag)
				if layoutDir != "" {
					continue // refs are layout paths
				}
				if len(a.Refs) != 1 || !strings.HasPrefix(a.Refs[0], tc.names[0][:strings.LastIndex(tc.names[0], ":")]+":"+a.Tag+"@sha256:") {
					t.Errorf("artifact %q refs %v", a.Tag, a.Refs)
				}
			}
			if !slices.Equal(tags, tc.tags) {
				t.Fatalf("reported %v, want %v\n%s", tags, tc.tags, buf.String())
			}
			if (rep.Image.Digest == "" && layoutDir == "") || len(rep.Image.Tags) != len(tc.names) {
				t.Fatalf("image report %+v", rep.Image)
			}
			if logged := strings.Contains(buf.String(), "*** Artifacts:"); logged != (len(tc.tags) > 0) {
				t.Fatalf("artifacts summary logged: %v\n%s", logged, buf.String())
			}
			if strings.Contains(buf.String(), "<nil>") {
				t.Fatalf("a nil error was logged:\n%s", buf.String())
			}
		})
	}
}

// Privileges makes a daemon client for a daemon export only (a registry
// export talks to no daemon), then drops to the CNB user.
func TestExportPrivileges(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	for _, daemon := range []bool{false, true} {
		in := lplatform.LifecycleInputs{UseDaemon: daemon, OutputImageRef: "out.example/app:latest", UID: os.Getuid(), GID: os.Getgid()}
		e := &exportCmd{Platform: &lplatform.Platform{LifecycleInputs: &in}}
		e.settings = mustSettings(t, &in, nil)
		if err := e.Privileges(); err != nil {
			t.Fatal(err)
		}
		if (e.docker != nil) != daemon || e.keychain == nil {
			t.Fatalf("daemon %v: docker client %v, keychain %v", daemon, e.docker, e.keychain)
		}
	}
}

// Privileges reads the signing key as root, failing on one it cannot load
// (invalid arguments), and hands the cache volume to the CNB user before
// it drops to that user.
func TestExportPrivilegesKeyAndVolumes(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("chowns volumes and drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	for _, tc := range []struct {
		name string
		key  string
		code int // 0: no failure
	}{
		{name: "no key"},
		{name: "a key that cannot be read", key: filepath.Join(t.TempDir(), "absent.key"), code: cmd.CodeForInvalidArgs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			// Another user's, not writable by the CNB user (this test's).
			if err := os.Chmod(cache, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(cache, os.Getuid()+4242, os.Getgid()+4242); err != nil {
				t.Fatal(err)
			}
			in := lplatform.LifecycleInputs{OutputImageRef: "out.example/app:latest", UID: os.Getuid(), GID: os.Getgid(), CacheDir: cache}
			e := &exportCmd{Platform: &lplatform.Platform{LifecycleInputs: &in}}
			e.settings = mustSettings(t, &in, map[string]string{platform.EnvSigningKey: tc.key})
			err := e.Privileges()
			fi, serr := os.Stat(cache)
			if serr != nil {
				t.Fatal(serr)
			}
			owned := fi.Sys().(*syscall.Stat_t).Uid == uint32(os.Getuid())
			if tc.code != 0 {
				var fail *cmd.ErrorFail
				if !errors.As(err, &fail) || fail.Code != tc.code {
					t.Fatalf("got %v, want exit code %d", err, tc.code)
				}
				if owned {
					t.Fatal("the cache was handed over after a failure")
				}
				return
			}
			if err != nil || !owned {
				t.Fatalf("err %v; cache handed to the CNB user: %v", err, owned)
			}
		})
	}
}

// refuseWrites is a registry that refuses every write to repositories under
// prefix (a cache image it cannot save) and serves the rest.
func refuseWrites(h http.Handler, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.HasPrefix(r.URL.Path, "/v2/"+prefix) {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"read-only"}]}`, http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// The cache is exported after the image and its artifacts; a cache that
// cannot be saved is a warning, not a failed export. Not parallel: the
// environment and the logger are the process's.
func TestExportCacheFailureWarns(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the export drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	srv := httptest.NewServer(refuseWrites(ggcrregistry.New(), "cache"))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	run := fixture.PushRunImage(t, host+"/run")
	buf := captureLog(t)
	t.Setenv(platform.EnvPolicy, "")
	t.Setenv(platform.EnvSigningKey, "")
	for _, tc := range []struct {
		name, cache string
		warn        bool
	}{
		{name: "cache saved", cache: host + "/saved-cache"},
		{name: "cache refused", cache: host + "/cache", warn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			if err := runExportWith(t, w, func(e *exportCmd) { e.CacheImageRef = tc.cache }, host+"/app:latest"); err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			var rep platform.Report
			if _, err := toml.DecodeFile(w.Report, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Image.Digest == "" || len(rep.Artifacts) != 3 {
				t.Fatalf("report: image %+v, %d artifacts", rep.Image, len(rep.Artifacts))
			}
			if warned := strings.Contains(buf.String(), "Failed to export cache"); warned != tc.warn {
				t.Fatalf("warned %v, want %v:\n%s", warned, tc.warn, buf.String())
			}
		})
	}
}

// Before platform API 0.13, exporting extended run image layers
// (Dockerfiles) is experimental: refused when experimental features are
// disabled, before anything is written. Not parallel: the environment, the
// logger and lifecycle's experimental mode are the process's.
func TestExportExtendedLayersExperimental(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the export drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	run := fixture.PushRunImage(t, host+"/run")
	buf := captureLog(t)
	t.Setenv(platform.EnvPolicy, "")
	t.Setenv(platform.EnvSigningKey, "")
	saved := lplatform.ExperimentalMode
	t.Cleanup(func() { lplatform.ExperimentalMode = saved })
	lplatform.ExperimentalMode = "error"
	extended := t.TempDir()
	if err := os.MkdirAll(filepath.Join(extended, "run", "sha256:abc"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := fixture.New(t, run, fixture.Plain())
	err := runExportWith(t, w, func(e *exportCmd) {
		e.PlatformAPI = api.MustParse("0.12")
		e.ExtendedDir = extended
	}, host+"/app:latest")
	if err == nil || !strings.Contains(err.Error(), "experimental features are disabled") {
		t.Fatalf("got %v, want the experimental feature refused\n%s", err, buf.String())
	}
	if _, err := os.Stat(w.Report); err == nil {
		t.Fatal("report.toml written on failure")
	}
}
