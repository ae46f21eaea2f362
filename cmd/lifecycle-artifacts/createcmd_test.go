package main

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/cmd"
	lplatform "github.com/buildpacks/lifecycle/platform"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// fakeLifecycle writes, next to the test binary (where the creator looks
// for upstream's lifecycle), a lifecycle that logs the phase it is asked
// for and exits 0, or with code 7 for a phase whose fail-<phase> file is
// next to it (the phases as the CNB user get a filtered environment): the
// stock phases' work is already done by the fixture's workspace (group.toml,
// analyzed.toml, the layers), so the creator's own export runs on it.
func fakeLifecycle(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(self), "lifecycle")
	script := "#!/bin/sh\necho \"fake lifecycle $1\"\nif [ -e \"$(dirname \"$0\")/fail-$1\" ]; then exit 7; fi\nexit 0\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return filepath.Dir(path)
}

// The create command in process, its stock phases faked: it runs them in
// the stock creator's order, a failing phase's exit code becomes its own,
// and it exports the artifacts like the exporter. Arguments: exactly one
// image name. Not parallel: the environment, the logger and the file next
// to the test binary are the process's.
func TestCreateCommand(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the creator hands the volumes to the CNB user: run the unit tests as root, as CI does")
	}
	dir := fakeLifecycle(t)
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	run := fixture.PushRunImage(t, host+"/run")
	buf := captureLog(t)
	t.Setenv("HOME", os.Getenv("HOME")) // Privileges sets the CNB user's
	for _, tc := range []struct {
		name, fail string
		key        bool // CNB_ARTIFACTS_SIGNING_KEY set
		names      []string
		code       int
		artifacts  int
	}{
		{name: "artifacts published", names: []string{host + "/app:latest"}, artifacts: 3},
		{name: "detect fails", fail: "detect", names: []string{host + "/app:latest"}, code: 7},
		{name: "restore fails", fail: "restore", names: []string{host + "/app:latest"}, code: 7},
		{name: "build fails", fail: "build", names: []string{host + "/app:latest"}, code: 7},
		{name: "analyze fails", fail: "analyze", names: []string{host + "/app:latest"}, code: 7},
		{name: "two image names", names: []string{host + "/app:latest", host + "/app:v1"}, code: cmd.CodeForInvalidArgs},
		// The CNB user is this test's (root): a key it can read is refused
		// before any phase (R17-7).
		{name: "signing key readable by the build user", key: true, names: []string{host + "/app:latest"}, code: cmd.CodeForInvalidArgs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(platform.EnvSigningKey, "")
			if tc.key {
				t.Setenv(platform.EnvSigningKey, writeTestKey(t))
			}
			if tc.fail != "" {
				fail := filepath.Join(dir, "fail-"+tc.fail)
				if err := os.WriteFile(fail, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(fail) })
			}
			buf.Reset()
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			launcher := filepath.Join(w.Dir, "launcher")
			if err := os.WriteFile(launcher, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			c := newCreateCmd("0.13")
			c.LayersDir, c.AppDir, c.LauncherPath = w.Layers, w.App, launcher
			c.GroupPath, c.AnalyzedPath, c.ReportPath = filepath.Join(w.Layers, "group.toml"), filepath.Join(w.Layers, "analyzed.toml"), w.Report
			c.RunPath = filepath.Join(w.Dir, "run.toml")
			c.UID, c.GID = os.Getuid(), os.Getgid()
			err := c.Args(len(tc.names), tc.names)
			if err == nil {
				if err = c.Privileges(); err == nil {
					err = c.Exec()
				}
			}
			if tc.code != 0 {
				var fail *cmd.ErrorFail
				if !errors.As(err, &fail) || fail.Code != tc.code {
					t.Fatalf("got %v, want exit code %d\n%s", err, tc.code, buf.String())
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
			if rep.Image.Digest == "" || len(rep.Artifacts) != tc.artifacts {
				t.Fatalf("report: image %+v, %d artifacts, want %d\n%s", rep.Image, len(rep.Artifacts), tc.artifacts, buf.String())
			}
		})
	}
}

// The creator's Privileges makes a daemon client for a daemon export only
// (a registry export talks to no daemon), resolves the keychain, and keeps
// the environment before and after switching to the CNB user's HOME. Not
// parallel: it sets HOME and USER.
func TestCreatePrivileges(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("hands the volumes to the CNB user: run the unit tests as root, as CI does")
	}
	t.Setenv("HOME", os.Getenv("HOME"))
	t.Setenv("USER", os.Getenv("USER"))
	for _, daemon := range []bool{false, true} {
		in := lplatform.LifecycleInputs{UseDaemon: daemon, OutputImageRef: "out.example/app:latest", UID: os.Getuid(), GID: os.Getgid()}
		c := &createCmd{Platform: &lplatform.Platform{LifecycleInputs: &in}}
		c.deps.settings = mustSettings(t, &in, nil)
		if err := c.Privileges(); err != nil {
			t.Fatal(err)
		}
		if (c.deps.docker != nil) != daemon || c.deps.keychain == nil {
			t.Fatalf("daemon %v: docker client %v, keychain %v", daemon, c.deps.docker, c.deps.keychain)
		}
		if len(c.rootEnv) == 0 || len(c.userEnv) == 0 {
			t.Fatalf("daemon %v: environments not kept: root %d, user %d variables", daemon, len(c.rootEnv), len(c.userEnv))
		}
	}
}

// The creator's layout target is experimental, as the exporter's: refused
// when experimental features are disabled, accepted with a warning
// otherwise. Not parallel: lifecycle reads CNB_EXPERIMENTAL_MODE into a
// variable of the process.
func TestCreateLayoutExperimental(t *testing.T) {
	saved := lplatform.ExperimentalMode
	t.Cleanup(func() { lplatform.ExperimentalMode = saved })
	buf := captureLog(t)
	for _, tc := range []struct {
		mode string
		says string // in the error; "" for none
	}{
		{mode: "error", says: "experimental features are disabled"},
		{mode: "warn"},
	} {
		lplatform.ExperimentalMode = tc.mode
		buf.Reset()
		c := newCreateCmd("0.13")
		c.UseLayout, c.LayoutDir = true, t.TempDir()
		c.LayersDir, c.AppDir, c.RunImageRef = t.TempDir(), t.TempDir(), "example.com/run:latest"
		err := c.Args(1, []string{"example.com/app:latest"})
		if tc.says == "" && err != nil || tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
			t.Fatalf("%s: got %v, want an error saying %q", tc.mode, err, tc.says)
		}
		if err == nil && c.deps.settings.kind != kindLayout {
			t.Fatalf("%s: target %q, want %q", tc.mode, c.deps.settings.kind, kindLayout)
		}
	}
}

// A stock phase that cannot be started (no lifecycle next to this binary)
// fails the creator, naming the phase.
func TestRunStockMissing(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(self), "lifecycle")); err == nil {
		t.Skip("a lifecycle is next to the test binary")
	}
	c := newCreateCmd("0.13")
	err = c.runStock("analyze", false)
	var fail *cmd.ErrorFail
	if !errors.As(err, &fail) || !strings.Contains(err.Error(), "run analyze") {
		t.Fatalf("got %v, want a failure naming the phase", err)
	}
}
