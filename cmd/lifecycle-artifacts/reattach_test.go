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
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// pushRandom pushes a random image to ref and returns its digest.
func pushRandom(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// reattach's arguments and outcomes, each with its exit code: usage errors
// (3) before anything is read; policy off does nothing; a name of another
// image is refused (63) and an image that cannot be read fails (62, or 64
// for the artifacts to re-attach); otherwise the artifacts are re-attached
// and report.toml names the image. Against an in-process registry; not
// parallel (the environment and the logger are the process's).
func TestReattachArguments(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	old := pushRandom(t, host+"/app:old")
	rebased := pushRandom(t, host+"/app:latest")
	other := pushRandom(t, host+"/app:other")
	missing := "sha256:" + strings.Repeat("e", 64)
	buf := captureLog(t)
	dir := t.TempDir()
	// A file where the report's directory would be: it cannot be written.
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int    // 0: success
		says   string // in the error or, on success, the log
		report bool   // a report is asked for and written
	}{
		{name: "no arguments", code: cmd.CodeForInvalidArgs, says: "usage: reattach -from"},
		{name: "no -from", args: []string{host + "/app:latest"}, code: cmd.CodeForInvalidArgs, says: "usage: reattach -from"},
		{name: "no image", args: []string{"-from", host + "/app@" + old}, code: cmd.CodeForInvalidArgs, says: "usage: reattach -from"},
		{name: "unknown flag", args: []string{"-fromm", "x", "y"}, code: cmd.CodeForInvalidArgs},
		{name: "bad log level", args: []string{"-log-level", "loud", "-from", host + "/app@" + old, host + "/app:latest"}, code: cmd.CodeForInvalidArgs},
		{name: "-from by tag", args: []string{"-from", host + "/app:old", host + "/app:latest"}, code: cmd.CodeForInvalidArgs, says: "name the image by digest"},
		{name: "bad policy", env: map[string]string{platform.EnvPolicy: "sometimes"}, args: []string{"-from", host + "/app@" + old, host + "/app:latest"}, code: cmd.CodeForInvalidArgs},
		{name: "policy off", env: map[string]string{platform.EnvPolicy: "off"}, args: []string{"-from", host + "/app@" + missing, host + "/app:latest"}, says: "no artifacts are re-attached"},
		{name: "bad image name", args: []string{"-from", host + "/app@" + old, "App:Bad Name"}, code: cmd.CodeForInvalidArgs},
		{name: "image not there", args: []string{"-from", host + "/app@" + old, host + "/app:gone"}, code: 62, says: "reading " + host + "/app:gone"},
		{name: "a name of another image", args: []string{"-from", host + "/app@" + old, host + "/app:latest", host + "/app:other"}, code: platform.CodeInvalidArtifacts, says: other},
		{name: "artifacts not read", args: []string{"-from", host + "/app@" + missing, host + "/app:latest"}, code: platform.CodeRegistryFailed, says: "reading the artifacts to publish again"},
		{name: "re-attached", args: []string{"-from", host + "/app@" + old, "-insecure-registry", host, host + "/app:latest", host + "/app:v2"},
			says: "Re-attaching 0 artifact(s) of " + host + "/app@" + old + " to " + host + "/app@" + rebased, report: true},
		{name: "the same image", args: []string{"-from", host + "/app@" + rebased, host + "/app:latest"}, says: "its artifacts are attached already"},
		{name: "report not written", args: []string{"-from", host + "/app@" + old, "-report", filepath.Join(dir, "file", "report.toml"), host + "/app:latest"}, code: 62},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{platform.EnvPolicy} {
				t.Setenv(k, tc.env[k])
			}
			buf.Reset()
			args := tc.args
			reportPath := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".toml")
			if tc.report {
				args = append([]string{"-report", reportPath}, args...)
			}
			err := reattach(args)
			if tc.code != 0 {
				var fail *cmd.ErrorFail
				if !errors.As(err, &fail) || fail.Code != tc.code {
					t.Fatalf("got %v, want exit code %d", err, tc.code)
				}
				if !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("the error %q does not say %q", err, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), tc.says) {
				t.Fatalf("the log does not say %q:\n%s", tc.says, buf.String())
			}
			if !tc.report {
				return
			}
			var rep platform.Report
			if _, err := toml.DecodeFile(reportPath, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Image.Digest != rebased || len(rep.Image.Tags) != 2 || rep.Image.Tags[1] != host+"/app:v2" || rep.Image.ManifestSize == 0 {
				t.Fatalf("report %+v, want the image %s with its two names", rep.Image, rebased)
			}
		})
	}
}

// Re-attaching the artifacts of an image this lifecycle signed, without a
// key, warns that what is published again is unsigned; with a key, or for
// an image it did not sign, there is nothing to warn of. Not parallel: the
// environment and the logger are the process's.
func TestReadArtifactsWarnsUnsigned(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the export drops privileges to the CNB user: run the unit tests as root, as CI does")
	}
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	run := fixture.PushRunImage(t, host+"/run")
	buf := captureLog(t)
	key := writeTestKey(t)
	t.Setenv(platform.EnvPolicy, "")
	t.Setenv(platform.EnvSigningKey, key)
	w := fixture.New(t, run, fixture.Plain())
	if err := runExport(t, w, host+"/signed:latest"); err != nil {
		t.Fatalf("export: %v\n%s", err, buf.String())
	}
	var rep platform.Report
	if _, err := toml.DecodeFile(w.Report, &rep); err != nil {
		t.Fatal(err)
	}
	unsigned := pushRandom(t, host+"/unsigned:latest")

	for _, tc := range []struct {
		name, image string
		key, warn   bool
	}{
		{name: "signed, no key", image: host + "/signed@" + rep.Image.Digest, warn: true},
		{name: "signed, a key", image: host + "/signed@" + rep.Image.Digest, key: true},
		{name: "not signed, no key", image: host + "/unsigned@" + unsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.key {
				env[platform.EnvSigningKey] = key
			}
			s, err := newSettings(nil, nil, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if err := s.loadSigner(cmd.DefaultLogger, nil); err != nil {
				t.Fatal(err)
			}
			from, err := name.NewDigest(tc.image)
			if err != nil {
				t.Fatal(err)
			}
			buf.Reset()
			if _, err := readArtifacts(context.Background(), from, s, authn.DefaultKeychain); err != nil {
				t.Fatal(err)
			}
			if warned := strings.Contains(buf.String(), "Not signing: "+tc.image+" was signed by this lifecycle"); warned != tc.warn {
				t.Fatalf("warned %v, want %v:\n%s", warned, tc.warn, buf.String())
			}
		})
	}
}
