package exporter

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// isInsecure matches the reference's registry against the insecure ones,
// for tags, digests and bare repositories alike.
func TestIsInsecure(t *testing.T) {
	insecure := []string{"registry.example.com:5000", "plain.example"}
	for _, tc := range []struct {
		ref  string
		want bool
	}{
		{"registry.example.com:5000/app:latest", true},
		{"registry.example.com:5000/team/app", true},
		{"registry.example.com:5000/app@sha256:" + strings.Repeat("a", 64), true},
		{"plain.example/app:v1", true},
		{"registry.example.com/app:latest", false},
		{"registry.example.com:5001/app:latest", false},
		{"app:latest", false}, // Docker Hub
		{"Not A Reference", false},
	} {
		if got := isInsecure(tc.ref, insecure); got != tc.want {
			t.Errorf("isInsecure(%q) = %v, want %v", tc.ref, got, tc.want)
		}
		opts := nameOptions(tc.ref, insecure)
		if ref, err := name.ParseReference(tc.ref, opts...); err == nil {
			if scheme := ref.Context().Scheme(); (scheme == "http") != tc.want {
				t.Errorf("nameOptions(%q): scheme %s", tc.ref, scheme)
			}
		}
	}
}
