package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/cmd"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// runRebase runs the rebase command in this process as the rebaser binary
// would (Args, Privileges, Exec) on the image names, with the run image
// taken from the image's metadata, and returns the report's path.
func runRebase(t *testing.T, names ...string) (string, error) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.toml")
	r := newRebaseCmd("0.13")
	r.ReportPath = report
	r.UID, r.GID = os.Getuid(), os.Getgid()
	if err := r.Args(len(names), names); err != nil {
		return report, err
	}
	if err := r.Privileges(); err != nil {
		return report, err
	}
	return report, r.Exec()
}

// The rebase command end to end, in process, against an in-process
// registry: the artifacts of the image go with the rebased image and are
// reported; under policy off the rebase is stock (no artifacts read or
// reported); an image that is not there, or no image name, fails with
// lifecycle's codes. Not parallel: the environment and the logger are the
// process's.
func TestRebaseCommand(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the rebase drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	run := fixture.PushRunImage(t, host+"/run")
	buf := captureLog(t)
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	t.Setenv(platform.EnvPolicy, "")
	if err := runExport(t, w, host+"/app:latest"); err != nil {
		t.Fatalf("export: %v\n%s", err, buf.String())
	}

	plain := fixture.New(t, run, fixture.Plain())
	if err := runExport(t, plain, host+"/plain:latest"); err != nil {
		t.Fatalf("export: %v\n%s", err, buf.String())
	}
	key := writeTestKey(t)

	for _, tc := range []struct {
		name, policy string
		key          bool // CNB_ARTIFACTS_SIGNING_KEY set: the rebased image and its artifacts are signed
		names        []string
		code         int // exit code of a failure, 0 for none
		artifacts    int
	}{
		{name: "artifacts go with the image", names: []string{host + "/app:latest", host + "/app:rebased"}, artifacts: 3},
		{name: "with a key, the rebased image and its artifacts are signed", key: true, names: []string{host + "/app:latest"}, artifacts: 3},
		{name: "with a key, an image without artifacts is signed", key: true, names: []string{host + "/plain:latest"}},
		{name: "policy off: stock", policy: "off", names: []string{host + "/app:latest"}},
		{name: "bad policy", policy: "sometimes", names: []string{host + "/app:latest"}, code: cmd.CodeForInvalidArgs},
		{name: "no image", names: []string{host + "/gone:latest"}, code: 72},
		{name: "no image name", code: cmd.CodeForInvalidArgs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(platform.EnvPolicy, tc.policy)
			t.Setenv(platform.EnvSigningKey, "")
			if tc.key {
				t.Setenv(platform.EnvSigningKey, key)
			}
			buf.Reset()
			report, err := runRebase(t, tc.names...)
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
			if _, err := toml.DecodeFile(report, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Image.Digest == "" || len(rep.Artifacts) != tc.artifacts {
				t.Fatalf("report: image %+v, %d artifacts, want %d\n%s", rep.Image, len(rep.Artifacts), tc.artifacts, buf.String())
			}
			for _, a := range rep.Artifacts {
				if len(a.Refs) != 1 || !strings.HasPrefix(a.Refs[0], host+"/app:"+a.Tag+"@") {
					t.Errorf("artifact %q refs %v", a.Tag, a.Refs)
				}
			}
			if logged := strings.Contains(buf.String(), "*** Artifacts:"); logged != (tc.artifacts > 0) {
				t.Fatalf("artifacts summary logged: %v\n%s", logged, buf.String())
			}
			if signed := rep.ImageSignature != nil && rep.ImageSignature.Signed == rep.Image.Digest; signed != tc.key {
				t.Fatalf("[image-signature] = %+v, want signed: %v\n%s", rep.ImageSignature, tc.key, buf.String())
			}
			for _, a := range rep.Artifacts {
				if (a.Signature != "") != tc.key {
					t.Errorf("artifact %q signature %q, want signed: %v", a.Tag, a.Signature, tc.key)
				}
			}
			// The log lists the signatures: the image's, and one line per artifact.
			if logged := strings.Contains(buf.String(), "*** Signatures:"); logged != tc.key {
				t.Fatalf("signatures logged: %v\n%s", logged, buf.String())
			}
			if n := strings.Count(buf.String(), " (artifact '"); tc.key && n != tc.artifacts {
				t.Fatalf("%d artifact signatures logged, want %d\n%s", n, tc.artifacts, buf.String())
			}
		})
	}
}

// Where the rebaser publishes no artifact (a daemon image; policy off), a
// key it was given signs nothing, and it says so; without a key it says
// nothing.
func TestRebaseCarryNothing(t *testing.T) {
	key := writeTestKey(t)
	buf := captureLog(t)
	for _, tc := range []struct {
		name   string
		kind   targetKind
		policy platform.Policy
		key    bool
	}{
		{name: "daemon, a key", kind: kindDaemon, key: true},
		{name: "daemon, no key", kind: kindDaemon},
		{name: "policy off, no key", kind: kindRegistry, policy: platform.PolicyOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			r := newRebaseCmd("0.13")
			r.settings = settings{kind: tc.kind, ArtifactInputs: platform.ArtifactInputs{Policy: tc.policy}}
			if tc.key {
				r.settings.SigningKey = key
				if err := r.settings.loadSigner(cmd.DefaultLogger, nil); err != nil {
					t.Fatal(err)
				}
			}
			target, err := r.carryArtifacts(context.Background())
			if err != nil || target != nil {
				t.Fatalf("target %v, err %v; want neither", target, err)
			}
			if warned := strings.Contains(buf.String(), "Not signing"); warned != tc.key {
				t.Fatalf("warned %v, want %v:\n%s", warned, tc.key, buf.String())
			}
		})
	}
}

// The rebaser's Privileges (upstream's) makes a daemon client for a daemon
// rebase only, resolves the keychain, then drops to the CNB user.
func TestRebasePrivileges(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	for _, daemon := range []bool{false, true} {
		r := newRebaseCmd("0.13")
		r.UseDaemon, r.OutputImageRef = daemon, "out.example/app:latest"
		r.UID, r.GID = os.Getuid(), os.Getgid()
		if err := r.Privileges(); err != nil {
			t.Fatal(err)
		}
		if (r.docker != nil) != daemon || r.keychain == nil {
			t.Fatalf("daemon %v: docker client %v, keychain %v", daemon, r.docker, r.keychain)
		}
	}
}

// The registry rebaser rebases the image it read in Args, before
// privileges drop (as upstream does), not one the tag names later. Not
// parallel: the environment and the logger are the process's.
func TestRebaseReadsTheImageOnce(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the rebase drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	run := fixture.PushRunImage(t, host+"/run")
	buf := captureLog(t)
	t.Setenv(platform.EnvPolicy, "off")
	t.Setenv(platform.EnvSigningKey, "")
	layers := map[string]int{}
	for _, tag := range []string{"one", "more"} {
		bps := []fixture.Buildpack{fixture.Plain()}
		if tag == "more" {
			bps = append(bps, fixture.Samples()...)
		}
		if err := runExport(t, fixture.New(t, run, bps...), host+"/app:"+tag); err != nil {
			t.Fatalf("export: %v\n%s", err, buf.String())
		}
		img, err := remote.Image(ref(t, host+"/app:"+tag))
		if err != nil {
			t.Fatal(err)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		layers[tag] = len(ls)
	}
	if layers["one"] == layers["more"] {
		t.Fatalf("the two images have %d layers each: the test cannot tell them apart", layers["one"])
	}
	// latest is the plain buildpack's image when the rebaser reads it, and
	// the image with the samples once privileges are dropped.
	src, err := remote.Get(ref(t, host+"/app:one"))
	if err != nil {
		t.Fatal(err)
	}
	latest, err := name.NewTag(host + "/app:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(latest, src); err != nil {
		t.Fatal(err)
	}
	r := newRebaseCmd("0.13")
	r.ReportPath = filepath.Join(t.TempDir(), "report.toml")
	r.UID, r.GID = os.Getuid(), os.Getgid()
	names := []string{host + "/app:latest", host + "/app:rebased"}
	if err := r.Args(len(names), names); err != nil {
		t.Fatal(err)
	}
	if err := r.Privileges(); err != nil {
		t.Fatal(err)
	}
	more, err := remote.Get(ref(t, host+"/app:more"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(latest, more); err != nil {
		t.Fatal(err)
	}
	if err := r.Exec(); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	img, err := remote.Image(ref(t, host+"/app:rebased"))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != layers["one"] {
		t.Fatalf("rebased image has %d layers, want %d (the image read in Args)", len(ls), layers["one"])
	}
}

// ref parses s, failing the test on an error.
func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
