package registry

import (
	"context"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// The insecure rule is imgutil's: an entry that is a prefix of the name;
// such a name parses with name.Insecure (its scheme is http), for tags,
// digests, bare repositories and registries, and every form of host.
func TestInsecure(t *testing.T) {
	t.Parallel()
	insecure := []string{"registry.example.com:5000", "plain.example", "kind-registry:5000", "10.0.0.7:5000", "localhost:5000"}
	for _, tc := range []struct {
		ref  string
		want bool
	}{
		{"registry.example.com:5000/app:latest", true},
		{"registry.example.com:5000/team/app", true},
		{"registry.example.com:5000/app@sha256:" + strings.Repeat("a", 64), true},
		{"plain.example/app:v1", true},
		{"kind-registry:5000/app:v1", true},
		{"kind-registry:5000", true},
		{"10.0.0.7:5000/app", true},
		{"localhost:5000/app:latest", true},
		{"registry.example.com/app:latest", false},
		{"registry.example.com:5001/app:latest", false},
		{"kind-registry:5001/app:v1", false},
		{"app:latest", false}, // Docker Hub
		{"Not A Reference", false},
	} {
		if got := Insecure(tc.ref, insecure); got != tc.want {
			t.Errorf("Insecure(%q) = %v, want %v", tc.ref, got, tc.want)
		}
		if ref, err := name.ParseReference(tc.ref, NameOptions(tc.ref, insecure)...); err == nil && tc.want {
			if scheme := ref.Context().Scheme(); scheme != "http" {
				t.Errorf("NameOptions(%q): scheme %s", tc.ref, scheme)
			}
		}
	}
}

// A plain-HTTP registry reached by a host name (kind-registry:<port>, here
// resolved to 127.0.0.1 by the test's dialer) is reached over http when it
// is listed as insecure, whichever way its name was parsed: the client
// applies the rule itself, so reads and writes agree. Unlisted, it is
// reached over https only, and fails.
func TestInsecureHostName(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, strings.Replace(addr, "kind-registry", "127.0.0.1", 1))
	}
	host := "kind-registry:" + port
	repo, err := name.NewRepository(host+"/app", name.WeakValidation) // parsed without name.Insecure
	must(t, err)
	img, _ := random.Image(64, 1)
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	ctx := context.Background()
	p := fast

	c, err := Dial(ctx, repo.Registry, Push(repo), Options{Insecure: []string{"kind-registry"}, Timeout: 5 * time.Second, dial: dial, retry: &p})
	must(t, err)
	if !c.Insecure() || c.Registry().Scheme() != "http" {
		t.Fatalf("insecure %v, scheme %s", c.Insecure(), c.Registry().Scheme())
	}
	ls, _ := img.Layers()
	must(t, c.UploadBlob(ctx, repo, ls[0]))
	cfg, _ := img.RawConfigFile()
	must(t, c.UploadBlob(ctx, repo, staticBlob(cfg)))
	_, err = c.PutManifest(ctx, repo, "latest", mt, raw)
	must(t, err)
	d, err := c.Head(ctx, repo, "latest")
	must(t, err)
	if want, _ := img.Digest(); d.Digest != want {
		t.Fatalf("HEAD %s, want %s", d.Digest, want)
	}

	one := retryPolicy{attempts: 1, first: time.Millisecond, max: time.Millisecond, budget: time.Millisecond}
	if _, err := Dial(ctx, repo.Registry, Pull(repo), Options{Timeout: 5 * time.Second, dial: dial, retry: &one}); err == nil {
		t.Fatal("a plain-HTTP registry by host name, not listed as insecure, was reached")
	}
}
