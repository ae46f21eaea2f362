//go:build acceptance

package acceptance_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// authProxy fronts a real registry with HTTP Basic auth and can refuse
// artifact manifests the way GitLab does (400 MANIFEST_INVALID).
type authProxy struct {
	user, pass     string
	refuseArtifact atomic.Bool
	next           http.Handler
}

func (p *authProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, pw, ok := r.BasicAuth()
	if !ok || u != p.user || pw != p.pass {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if p.refuseArtifact.Load() && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") &&
		strings.Contains(r.Header.Get("Content-Type"), "oci.image.manifest") && r.ContentLength < 1200 && !strings.Contains(r.URL.Path, "/run/") {
		if b := peekArtifactType(r); b {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unknown media type"}]}`))
			return
		}
	}
	p.next.ServeHTTP(w, r)
}

// peekArtifactType reports whether the manifest in r declares an
// artifactType, restoring the body for the backend.
func peekArtifactType(r *http.Request) bool {
	var buf strings.Builder
	b := make([]byte, 4096)
	for {
		n, err := r.Body.Read(b)
		buf.Write(b[:n])
		if err != nil {
			break
		}
	}
	r.Body = httpNopCloser{strings.NewReader(buf.String())}
	return strings.Contains(buf.String(), `"artifactType"`)
}

type httpNopCloser struct{ *strings.Reader }

func (httpNopCloser) Close() error { return nil }

// startAuthProxy fronts reg with an authProxy for user and pass, and returns
// it, its host and the CNB_REGISTRY_AUTH setting for it.
func startAuthProxy(t *testing.T, reg *harness.Registry, user, pass string) (*authProxy, string, string) {
	t.Helper()
	backend, err := url.Parse("http://" + reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &authProxy{user: user, pass: pass, next: httputil.NewSingleHostReverseProxy(backend)}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return proxy, host, `CNB_REGISTRY_AUTH={"` + host + `":"Basic ` + basic + `"}`
}

// Credentials given through CNB_REGISTRY_AUTH never appear in the output, on
// success or on failure; a registry that refuses an artifact manifest fails
// the export with exit 64, names the registry and what it refused, and
// leaves every tag where it was.
func TestExportRegistryRefusalAndCredentials(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, host, auth := startAuthProxy(t, reg, "builder", "s3cr3t-p4ss")
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, host, 1)
	basic := base64.StdEncoding.EncodeToString([]byte(proxy.user + ":" + proxy.pass))
	env := []string{auth, "CNB_LOG_LEVEL=debug"}
	app := host + "/app:latest"
	secrets := []string{proxy.pass, basic}

	w := fixture.New(t, run, fixture.Plain(), fixture.Samples()[2])
	out, code := export(t, w, false, "0.13", env, app)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	before := readReport(t, w.Report).Image.Digest
	junitBefore := head(t, reg.Host+"/app:junit")
	noSecrets(t, out, secrets)

	// Change the content, and let the registry refuse artifact manifests.
	proxy.refuseArtifact.Store(true)
	w2 := fixture.New(t, run, fixture.Buildpack{ID: "examples/node", Version: "2.0.0", Layers: fixture.Plain().Layers}, fixture.Samples()[2])
	out, code = export(t, w2, false, "0.13", env, app)
	if code != platform.CodeRegistryFailed {
		t.Fatalf("exit %d, want %d\n%s", code, platform.CodeRegistryFailed, out)
	}
	for _, s := range []string{"registry " + host, "refused manifest", "MANIFEST_INVALID", "no tag was moved"} {
		if !strings.Contains(out, s) {
			t.Fatalf("error does not say %q:\n%s", s, out)
		}
	}
	noSecrets(t, out, secrets)
	if _, err := os.Stat(w2.Report); !os.IsNotExist(err) {
		t.Fatal("report.toml written for a failed export")
	}
	if got := head(t, reg.Host+"/app:latest"); got.String() != before {
		t.Fatalf("app tag moved to %s on a failed export (was %s)", got, before)
	}
	if got := head(t, reg.Host+"/app:junit"); got != junitBefore {
		t.Fatalf("artifact tag moved to %s on a failed export (was %s)", got, junitBefore)
	}
}

func noSecrets(t *testing.T, out string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("output contains a credential")
		}
	}
}
