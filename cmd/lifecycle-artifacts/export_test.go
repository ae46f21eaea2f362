package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/buildpacks/lifecycle/buildpack"
	"github.com/buildpacks/lifecycle/cmd"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
)

func mustSettings(t *testing.T, in *lplatform.LifecycleInputs, env map[string]string) settings {
	t.Helper()
	s, err := newSettings(in, []string{"reg.local:5000"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The transaction's options: the six every command sets, the digest cache
// when there is one, and the previous image only when there is one and the
// policy lets artifacts be read (under off no referrer is read).
func TestTxOptions(t *testing.T) {
	t.Parallel()
	cache := artifacts.OpenDigestCache(t.TempDir())
	for _, tc := range []struct {
		name     string
		policy   string
		digests  *artifacts.DigestCache
		previous string
		want     int
	}{
		{"nothing optional", "", nil, "", 6},
		{"digest cache", "", cache, "", 7},
		{"previous image", "", nil, "r/app@sha256:" + strings.Repeat("a", 64), 7},
		{"both", "best-effort", cache, "r/app@sha256:" + strings.Repeat("a", 64), 8},
		{"previous image under off: not read", "off", cache, "r/app@sha256:" + strings.Repeat("a", 64), 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSettings(t, &lplatform.LifecycleInputs{}, map[string]string{platform.EnvPolicy: tc.policy})
			if got := len(s.txOptions(authn.DefaultKeychain, tc.digests, tc.previous)); got != tc.want {
				t.Fatalf("%d options, want %d", got, tc.want)
			}
		})
	}
}

// A previous image is parsed by digest under the insecure rule; a tag is
// refused.
func TestSettingsDigest(t *testing.T) {
	t.Parallel()
	s := mustSettings(t, nil, nil)
	d, err := s.digest("reg.local:5000/app@sha256:" + strings.Repeat("b", 64))
	if err != nil || d.Context().Scheme() != "http" {
		t.Fatalf("insecure digest: %v %v", d, err)
	}
	d, err = s.digest("secure.example/app@sha256:" + strings.Repeat("b", 64))
	if err != nil || d.Context().Scheme() != "https" {
		t.Fatalf("secure digest: %v %v", d, err)
	}
	if _, err := s.digest("reg.local:5000/app:latest"); err == nil {
		t.Fatal("a tag was taken for a digest")
	}
}

// The keychain is resolved for the images the export reads and writes:
// lifecycle's, plus the previous image of a registry export (its artifacts
// are read) or the daemon export's artifact repository.
func TestExportRegistryImages(t *testing.T) {
	t.Parallel()
	prev := files.Analyzed{PreviousImage: &files.ImageIdentifier{Reference: "prev.example/app@sha256:" + strings.Repeat("c", 64)}}
	for _, tc := range []struct {
		name     string
		in       lplatform.LifecycleInputs
		env      map[string]string
		analyzed files.Analyzed
		extra    string // the image added to lifecycle's, "" for none
	}{
		{"registry with a previous image", lplatform.LifecycleInputs{}, nil, prev, prev.PreviousImage.Reference},
		{"registry without one", lplatform.LifecycleInputs{}, nil, files.Analyzed{}, ""},
		{"daemon with a repository", lplatform.LifecycleInputs{UseDaemon: true}, map[string]string{platform.EnvDaemonRepository: "repo.example/artifacts"}, prev, "repo.example/artifacts"},
		{"daemon without one", lplatform.LifecycleInputs{UseDaemon: true}, nil, prev, ""},
		{"layout", lplatform.LifecycleInputs{UseLayout: true}, map[string]string{platform.EnvDaemonRepository: "repo.example/artifacts"}, prev, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.OutputImageRef, in.RunImageRef = "out.example/app:latest", "run.example/run:1"
			e := &exportCmd{Platform: &lplatform.Platform{LifecycleInputs: &in}}
			e.settings = mustSettings(t, &in, tc.env)
			e.analyzed = tc.analyzed
			got := e.registryImages()
			want := in.RegistryImages()
			if tc.extra != "" {
				want = append(want, tc.extra)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// The target follows the settings' kind; a daemon export's image name that
// does not parse is an argument error.
func TestExportTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, output string
		in           lplatform.LifecycleInputs
		want         string // the target's type
		code         int    // the exit code of an error, 0 for none
	}{
		{"registry", "out.example/app:latest", lplatform.LifecycleInputs{}, "*exporter.registryTarget", 0},
		{"daemon", "app:latest", lplatform.LifecycleInputs{UseDaemon: true}, "*exporter.daemonTarget", 0},
		{"daemon, bad name", "App:Bad Name", lplatform.LifecycleInputs{UseDaemon: true}, "", cmd.CodeForInvalidArgs},
		{"layout", "out.example/app:latest", lplatform.LifecycleInputs{UseLayout: true}, "*exporter.layoutTarget", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.OutputImageRef = tc.output
			e := &exportCmd{Platform: &lplatform.Platform{LifecycleInputs: &in}}
			e.settings = mustSettings(t, &in, nil)
			e.keychain = authn.DefaultKeychain
			target, err := e.target(nil)
			if tc.code != 0 {
				var fail *cmd.ErrorFail
				if !errors.As(err, &fail) || fail.Code != tc.code {
					t.Fatalf("got %v, want exit code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", target); got != tc.want {
				t.Fatalf("target %s, want %s", got, tc.want)
			}
		})
	}
}

// reusedLayers lays out a layers directory whose buildpack acme/bp keeps
// launch layer "deps" from the previous image (a <layer>.toml, no
// directory) and writes layer "out".
func reusedLayers(t *testing.T) (string, buildpack.Group) {
	t.Helper()
	dir := t.TempDir()
	bp := filepath.Join(dir, "acme_bp")
	for _, f := range []string{"deps.toml", "out.toml"} {
		if err := os.MkdirAll(bp, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bp, f), []byte("[types]\n  launch = true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(bp, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, buildpack.Group{Group: []buildpack.GroupElement{{ID: "acme/bp", Version: "1.0.0"}}}
}

// What the exporter carries from the previous image, by the settings: under
// off nothing is read; nothing is reused without a previous image or a
// reused layer; a layout or daemon export warns; a previous image that
// cannot be read fails under required (exit 64, nothing written) and is
// reported as not carried under best-effort. Against an in-process
// registry.
func TestExportCarryArtifacts(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(host + "/app:prev")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	existing := host + "/app@" + d.String()
	missing := host + "/app@sha256:" + strings.Repeat("d", 64)
	buf := captureLog(t)

	for _, tc := range []struct {
		name     string
		policy   string
		in       lplatform.LifecycleInputs
		previous string
		noReused bool
		warn     string // a warning logged, "" for none
		skipped  string // the not-carried report's reason, "" for none
		errCode  int    // the exit code of a failure, 0 for none
	}{
		{name: "policy off", policy: "off", previous: missing},
		{name: "no reused layer", previous: missing, noReused: true},
		{name: "no previous image"},
		{name: "layout", in: lplatform.LifecycleInputs{UseLayout: true}, previous: missing, warn: "layer 'deps' is reused from the previous image, but its artifacts are not carried"},
		{name: "daemon", in: lplatform.LifecycleInputs{UseDaemon: true}, previous: missing, warn: "the previous image is not in a registry"},
		{name: "previous image without artifacts", previous: existing},
		{name: "previous image by tag, required", previous: host + "/app:prev", errCode: platform.CodeRegistryFailed},
		{name: "previous image by tag, best-effort", policy: "best-effort", previous: host + "/app:prev", skipped: "is not named by digest", warn: "is not named by digest"},
		{name: "previous image gone, required", previous: missing, errCode: platform.CodeRegistryFailed},
		{name: "previous image gone, best-effort", policy: "best-effort", previous: missing, skipped: "not carried: ", warn: "could not be carried"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			layersDir, group := reusedLayers(t)
			if tc.noReused {
				if err := os.Mkdir(filepath.Join(layersDir, "acme_bp", "deps"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			in := tc.in
			in.LayersDir = layersDir
			e := &exportCmd{Platform: &lplatform.Platform{LifecycleInputs: &in}}
			e.settings = mustSettings(t, &in, map[string]string{platform.EnvPolicy: tc.policy})
			e.keychain = authn.DefaultKeychain
			if tc.previous != "" {
				e.analyzed = files.Analyzed{PreviousImage: &files.ImageIdentifier{Reference: tc.previous}}
			}
			carried, skipped, err := e.carryArtifacts(context.Background(), group, nil)
			if tc.errCode != 0 {
				var ce *carryError
				if !errors.As(err, &ce) {
					t.Fatalf("got %v, want a carry error", err)
				}
				if code, _, _ := artifactsCode(err); code != tc.errCode {
					t.Fatalf("exit code %d, want %d", code, tc.errCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(carried) != 0 {
				t.Fatalf("carried %d artifacts", len(carried))
			}
			switch {
			case tc.skipped == "" && len(skipped) != 0:
				t.Fatalf("skipped %+v", skipped)
			case tc.skipped != "" && (len(skipped) != 1 || skipped[0].Layer != "deps" || !strings.Contains(skipped[0].Skipped, tc.skipped)):
				t.Fatalf("skipped %+v, want layer deps: %q", skipped, tc.skipped)
			}
			if logged := buf.String(); (tc.warn == "") != (logged == "") || !strings.Contains(logged, tc.warn) {
				t.Fatalf("logged %q, want %q", logged, tc.warn)
			}
		})
	}
}
