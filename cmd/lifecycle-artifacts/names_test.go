package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Every name is resolved before a write: one that names another image is
// refused with the image it names; a name of the image itself, or one that
// names nothing yet, passes. Against an in-process registry.
func TestCheckNames(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(tag string) string {
		t.Helper()
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(host + "/app:" + tag)
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
		return d.String()
	}
	rebased, old := push("latest"), push("v1")
	s, err := newSettings(nil, nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(ctx context.Context, ref name.Reference) (string, error) {
		return headDigest(ctx, ref, s.clientOptions(authn.DefaultKeychain))
	}
	for _, tc := range []struct {
		name    string
		names   []string
		refused string // the name refused, "" for none
	}{
		{"the image's own name", []string{host + "/app:latest"}, ""},
		{"a new name", []string{host + "/app:latest", host + "/app:v2", host + "/other:latest"}, ""},
		{"a name of another image", []string{host + "/app:latest", host + "/app:v1"}, host + "/app:v1"},
		{"the first name refused first", []string{host + "/app:v1", host + "/app:latest"}, host + "/app:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkNames(context.Background(), tc.names, rebased, s, resolve)
			var ne *nameError
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused != "" && !errors.As(err, &ne):
				t.Fatalf("got %v, want a *nameError", err)
			case tc.refused != "":
				if ne.name != tc.refused || ne.names != old || ne.want != rebased {
					t.Fatalf("refused %+v, want %s naming %s (not %s)", ne, tc.refused, old, rebased)
				}
				for _, want := range []string{tc.refused, old, rebased} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("the error lacks %q: %v", want, err)
					}
				}
			}
		})
	}
	// A name that cannot be resolved fails: it is not taken as absent.
	srv.Close()
	if err := checkNames(context.Background(), []string{host + "/app:latest"}, rebased, s, resolve); err == nil {
		t.Fatal("an unreachable registry passed the check")
	}
}
