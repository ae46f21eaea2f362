package faultproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Quirks make the proxy behave like a registry users push to, on top of the
// real registry behind it (docs/spec.md, "Registries"). The zero value has
// none.
type Quirks struct {
	// AllowedTypes, when set, refuses (400 MANIFEST_INVALID, as GitLab does)
	// an image manifest whose artifactType or config media type is not
	// listed. Images (no artifactType, an image config) pass.
	AllowedTypes []string
	// AllowedTypesIn, when set, limits AllowedTypes to these repositories
	// (GitLab's allow-list is a project's, a repository's setting).
	AllowedTypesIn []string
	// SubjectMustExist refuses (400 MANIFEST_INVALID, as GitLab does) a
	// manifest whose subject is not in the repository yet.
	SubjectMustExist bool
	// FallbackTagIsSubject answers a GET or HEAD of a referrers fallback tag
	// (sha256-<hex>) with the subject manifest itself, as GitLab does.
	FallbackTagIsSubject bool
	// Referrers replaces the registry's answer to the referrers API.
	Referrers ReferrersQuirk
	// NoSubjectHeader drops the OCI-Subject header from manifest writes
	// (Quay 3.12 serves the referrers API without it).
	NoSubjectHeader bool
	// TagListDenied refuses tag listings with 403 DENIED, as registries do
	// for least-privilege push credentials (ECR's ListImages, SWR).
	TagListDenied bool
}

// ReferrersQuirk is how the proxy answers GET /v2/<name>/referrers/<digest>.
type ReferrersQuirk string

const (
	// ReferrersAsIs forwards to the registry.
	ReferrersAsIs ReferrersQuirk = ""
	// Referrers406 answers 406 Not Acceptable (Artifactory before 7.90.1).
	Referrers406 ReferrersQuirk = "406"
	// ReferrersRedirectHTML redirects to a login page that answers 200
	// text/html (seen from Google Artifact Registry).
	ReferrersRedirectHTML ReferrersQuirk = "redirect-html"
	// ReferrersHang holds the request without answering for the proxy's
	// stall duration.
	ReferrersHang ReferrersQuirk = "hang"
)

// SetQuirks sets the quirks for every later request.
func (p *Proxy) SetQuirks(q Quirks) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.quirks = q
}

var (
	manifestPath  = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)
	referrersPath = regexp.MustCompile(`^/v2/(.+)/referrers/([^/]+)$`)
	fallbackTag   = regexp.MustCompile(`^([a-z0-9]+)-([a-f0-9]{32,})$`)
)

// serveQuirk answers r itself where a quirk applies and reports whether it
// did; otherwise the caller forwards r (through w, which may drop headers).
func (p *Proxy) serveQuirk(w http.ResponseWriter, r *http.Request, q Quirks) (http.ResponseWriter, bool) {
	if r.URL.Path == "/login" {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><body>Sign in</body></html>")
		return w, true
	}
	if m := referrersPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		switch q.Referrers {
		case Referrers406:
			ociError(w, http.StatusNotAcceptable, "UNSUPPORTED", "referrers: not acceptable")
			return w, true
		case ReferrersRedirectHTML:
			http.Redirect(w, r, "/login?next="+r.URL.Path, http.StatusFound)
			return w, true
		case ReferrersHang:
			select {
			case <-time.After(p.stall):
			case <-r.Context().Done():
			}
			hijackAndClose(w, false)
			return w, true
		}
	}
	if q.TagListDenied && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tags/list") {
		ociError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
		return w, true
	}
	m := manifestPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		return w, false
	}
	repo, ref := m[1], m[2]
	if q.FallbackTagIsSubject && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if f := fallbackTag.FindStringSubmatch(ref); f != nil {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/v2/" + repo + "/manifests/" + f[1] + ":" + f[2]
			r2.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json")
			p.next.ServeHTTP(w, r2)
			return w, true
		}
	}
	if r.Method == http.MethodPut && (len(q.AllowedTypes) > 0 || q.SubjectMustExist) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var man struct {
			ArtifactType string `json:"artifactType"`
			Config       struct {
				MediaType string `json:"mediaType"`
			} `json:"config"`
			Subject *struct {
				Digest string `json:"digest"`
			} `json:"subject"`
		}
		if json.Unmarshal(body, &man) == nil {
			if len(q.AllowedTypes) > 0 && (len(q.AllowedTypesIn) == 0 || slices.Contains(q.AllowedTypesIn, repo)) && isArtifact(man.ArtifactType, man.Config.MediaType) &&
				!slices.Contains(q.AllowedTypes, man.ArtifactType) && !slices.Contains(q.AllowedTypes, man.Config.MediaType) {
				ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid: unknown media type "+firstNonEmpty(man.ArtifactType, man.Config.MediaType))
				return w, true
			}
			if q.SubjectMustExist && man.Subject != nil && !p.exists(r, repo, man.Subject.Digest) {
				ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid: subject "+man.Subject.Digest+" not found")
				return w, true
			}
		}
	}
	if q.NoSubjectHeader && r.Method == http.MethodPut {
		return dropHeader{ResponseWriter: w, name: "OCI-Subject"}, false
	}
	return w, false
}

// isArtifact reports whether a manifest is an artifact rather than an image.
func isArtifact(artifactType, configType string) bool {
	return artifactType != "" || (configType != "" && !strings.Contains(configType, "image.config") && !strings.Contains(configType, "container.image"))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// exists asks the registry whether repo has the manifest digest.
func (p *Proxy) exists(r *http.Request, repo, digest string) bool {
	head, err := http.NewRequestWithContext(r.Context(), http.MethodHead, "/v2/"+repo+"/manifests/"+digest, nil)
	if err != nil {
		return false
	}
	head.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json")
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, head)
	return rec.Code == http.StatusOK
}

// dropHeader removes one response header before the status is written.
type dropHeader struct {
	http.ResponseWriter
	name string
}

func (d dropHeader) WriteHeader(code int) {
	d.Header().Del(d.name)
	d.ResponseWriter.WriteHeader(code)
}

func (d dropHeader) Write(b []byte) (int, error) {
	d.Header().Del(d.name)
	return d.ResponseWriter.Write(b)
}
