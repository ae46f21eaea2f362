//go:build acceptance

package acceptance_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Under CNB_ARTIFACTS_POLICY=off the exporter reads no artifacts.toml: one
// that is invalid does not fail the export, one that is valid publishes
// nothing, and the repository holds the app image's tags only.
func TestPolicyOffReadsNoDeclaration(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	invalid := fixture.Buildpack{ID: "examples/broken", Version: "1.0.0", Layers: []fixture.Layer{{Name: "broken",
		Files: map[string][]byte{"artifacts.toml": []byte("[[artifact]]\ntag = \"Not A Tag!\"\nfile = \"missing\"\n")}}}}
	w := fixture.New(t, run, fixture.Plain(), invalid, fixture.Samples()[2])
	app := reg.Host + "/app"

	// The same workspace fails without the policy: the declaration is read.
	if out, code := export(t, w, false, "0.13", nil, app+":latest"); code != platform.CodeInvalidArtifacts && harness.Ours() {
		t.Fatalf("without %s=off the invalid declaration did not fail the export: exit %d\n%s", platform.EnvPolicy, code, out)
	}

	out, code := export(t, w, false, "0.13", []string{platform.EnvPolicy + "=off"}, app+":latest")
	if code != 0 {
		t.Fatalf("%s=off: an invalid artifacts.toml failed the export, exit %d\n%s", platform.EnvPolicy, code, out)
	}
	if rep := readReport(t, w.Report); len(rep.Artifacts) != 0 {
		t.Errorf("%s=off: report.toml lists artifacts %+v", platform.EnvPolicy, rep.Artifacts)
	}
	repo, err := name.NewRepository(app)
	must(t, err)
	tags, err := remote.List(repo)
	must(t, err)
	if !slices.Equal(tags, []string{"latest"}) {
		t.Errorf("%s=off: the repository holds tags %v, want only the app image's latest", platform.EnvPolicy, tags)
	}
}

// stallingRegistry accepts connections and never answers; the channel gets
// a value once a client has connected.
func stallingRegistry(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	connected := make(chan struct{}, 1)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case connected <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), connected
}

// [R14.1-2] The exporter and the creator make themselves non-dumpable: run
// as the CNB user itself (nothing to drop, so the kernel would leave them
// dumpable), with a registry that never answers so that they stay alive,
// another process of that user cannot read their /proc/<pid>/environ,
// which holds the credentials. A control process of the same user can be
// read, so the observation can fail.
func TestPhasesAreNotDumpable(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run the phases as another user")
	}
	launcher := harness.Binary(t, "launcher")
	canary := "canary-" + strings.Repeat("d0mp", 4)
	for _, tc := range []struct {
		phase string
		uid   int
		// setup lays out a workspace the user can use and returns the
		// phase's arguments and environment.
		setup func(t *testing.T, stall string, uid int) ([]string, []string)
	}{
		{phase: "exporter", uid: 1000, setup: func(t *testing.T, stall string, uid int) ([]string, []string) {
			dir, err := os.MkdirTemp("", "dumpable-")
			must(t, err)
			t.Cleanup(func() { os.RemoveAll(dir) })
			must(t, os.Chmod(dir, 0o755))
			w := fixture.NewAt(t, dir, stall+"/run@sha256:"+strings.Repeat("0", 64), fixture.Plain())
			must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(p, uid, uid)
			}))
			env := w.Env("0.13")
			for i, kv := range env {
				if k, _, _ := strings.Cut(kv, "="); k == "CNB_USER_ID" || k == "CNB_GROUP_ID" {
					env[i] = fmt.Sprintf("%s=%d", k, uid)
				}
			}
			return append(w.Args(launcher), stall+"/app:latest"), env
		}},
		// The build workspace is world-writable, for the creator's default
		// CNB user, nobody.
		{phase: "creator", uid: 65534, setup: func(t *testing.T, stall string, uid int) ([]string, []string) {
			b := fixture.NewBuild(t, stall+"/run@sha256:"+strings.Repeat("0", 64), fixture.Plain())
			return append(b.Args(launcher), stall+"/app:latest"), b.Env("0.13")
		}},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			bin := harness.Binary(t, tc.phase)
			stall, connected := stallingRegistry(t)
			args, env := tc.setup(t, stall, tc.uid)
			asUser := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(tc.uid), Gid: uint32(tc.uid)}}
			cmd := exec.Command(bin, args...)
			cmd.Env = append(env, fmt.Sprintf(`CNB_REGISTRY_AUTH={%q:"Bearer %s"}`, stall, canary), "CNB_INSECURE_REGISTRIES="+stall)
			cmd.SysProcAttr = asUser
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			must(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			select {
			case <-connected:
			case err := <-exited:
				t.Fatalf("the %s exited (%v) before it reached the registry:\n%s", tc.phase, err, out.String())
			case <-time.After(30 * time.Second):
				t.Fatalf("the %s did not reach the registry within 30s:\n%s", tc.phase, out.String())
			}

			// readEnviron reads /proc/<pid>/environ as the CNB user.
			readEnviron := func(pid int) (string, error) {
				c := exec.Command("cat", fmt.Sprintf("/proc/%d/environ", pid))
				c.SysProcAttr = asUser
				b, err := c.CombinedOutput()
				return string(b), err
			}
			control := exec.Command("sleep", "60")
			control.Env = []string{"CONTROL=" + canary}
			control.SysProcAttr = asUser
			must(t, control.Start())
			t.Cleanup(func() {
				_ = control.Process.Kill()
				_ = control.Wait()
			})
			if got, err := readEnviron(control.Process.Pid); err != nil || !strings.Contains(got, canary) {
				t.Fatalf("the control: a process of uid %d cannot read the environment of another of its own (%v): %s", tc.uid, err, got)
			}
			got, err := readEnviron(cmd.Process.Pid)
			if err == nil || strings.Contains(got, canary) {
				t.Fatalf("[R14.1-2] a process of the %s's user (uid %d) read the %s's environment, credentials included: the %s is dumpable", tc.phase, tc.uid, tc.phase, tc.phase)
			}
			t.Logf("reading the %s's environ as uid %d: %v %s", tc.phase, tc.uid, err, strings.TrimSpace(got))
		})
	}
}
