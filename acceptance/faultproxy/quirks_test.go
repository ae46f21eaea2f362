package faultproxy_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
)

// Each quirk answers as the registry it emulates does; without quirks the
// registry behind answers.
func TestQuirks(t *testing.T) {
	backend := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer backend.Close()
	p, err := faultproxy.Start(strings.TrimPrefix(backend.URL, "http://"), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(p.Host + "/app:latest")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	subject := `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d.String() + `","size":1}`
	missing := `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:` + strings.Repeat("0", 64) + `","size":1}`
	artifact := func(typ, subj string) string {
		return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"` + typ + `","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"subject":` + subj + `}`
	}
	put := func(tag, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, "http://"+p.Host+"/v2/app/manifests/"+tag, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	get := func(client *http.Client, path string) (*http.Response, string, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.Host+path, nil)
		req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), nil
	}

	p.SetQuirks(faultproxy.Quirks{AllowedTypes: []string{"application/vnd.cncf.helm.config.v1+json"}})
	if resp := put("wasm", artifact("application/wasm", subject)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("allow-list: unlisted type answered %d", resp.StatusCode)
	}
	if resp := put("chart", artifact("application/vnd.cncf.helm.config.v1+json", subject)); resp.StatusCode != http.StatusCreated {
		t.Errorf("allow-list: listed type answered %d", resp.StatusCode)
	}

	p.SetQuirks(faultproxy.Quirks{AllowedTypes: []string{"application/vnd.cncf.helm.config.v1+json"}, AllowedTypesIn: []string{"other"}})
	if resp := put("wasm", artifact("application/wasm", subject)); resp.StatusCode != http.StatusCreated {
		t.Errorf("allow-list of another repository: unlisted type answered %d", resp.StatusCode)
	}

	p.SetQuirks(faultproxy.Quirks{SubjectMustExist: true})
	if resp := put("orphan", artifact("application/x", missing)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("subject must exist: a missing subject answered %d", resp.StatusCode)
	}
	if resp := put("attached", artifact("application/x", subject)); resp.StatusCode != http.StatusCreated {
		t.Errorf("subject must exist: an existing subject answered %d", resp.StatusCode)
	}

	p.SetQuirks(faultproxy.Quirks{FallbackTagIsSubject: true})
	resp, body, err := get(http.DefaultClient, "/v2/app/manifests/sha256-"+d.Hex)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fallback tag: %v %v", resp, err)
	}
	if h, _, _ := v1.SHA256(strings.NewReader(body)); h != d {
		t.Errorf("fallback tag answered %s, want the subject %s", h, d)
	}

	p.SetQuirks(faultproxy.Quirks{TagListDenied: true})
	if resp, _, err := get(http.DefaultClient, "/v2/app/tags/list"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("tag list denied: %v %v", resp, err)
	}
	if resp, _, err := get(http.DefaultClient, "/v2/app/manifests/latest"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("tag list denied: a manifest read answered %v %v", resp, err)
	}

	for _, tc := range []struct {
		q      faultproxy.ReferrersQuirk
		status int
		ctype  string
		hang   bool
	}{
		{faultproxy.Referrers406, http.StatusNotAcceptable, "application/json", false},
		{faultproxy.ReferrersRedirectHTML, http.StatusOK, "text/html", false},
		{faultproxy.ReferrersHang, 0, "", true},
	} {
		p.SetQuirks(faultproxy.Quirks{Referrers: tc.q})
		resp, _, err := get(&http.Client{Timeout: 100 * time.Millisecond}, "/v2/app/referrers/"+d.String())
		if tc.hang {
			if err == nil {
				t.Errorf("%s: answered %d", tc.q, resp.StatusCode)
			}
			continue
		}
		if err != nil || resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s: %v %v", tc.q, resp, err)
		}
	}
}

// NoSubjectHeader drops OCI-Subject from a manifest write's answer.
func TestQuirkNoSubjectHeader(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("OCI-Subject", "sha256:"+strings.Repeat("1", 64))
		w.WriteHeader(http.StatusCreated)
	}))
	defer backend.Close()
	p, err := faultproxy.Start(strings.TrimPrefix(backend.URL, "http://"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, drop := range []bool{false, true} {
		p.SetQuirks(faultproxy.Quirks{NoSubjectHeader: drop})
		req, _ := http.NewRequest(http.MethodPut, "http://"+p.Host+"/v2/app/manifests/x", strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("OCI-Subject") != ""; got == drop {
			t.Errorf("NoSubjectHeader=%v: header present %v", drop, got)
		}
	}
}
