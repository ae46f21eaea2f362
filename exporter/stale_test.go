package exporter_test

import (
	"context"
	"strings"
	"testing"

	alog "github.com/apex/log"
	"github.com/apex/log/handlers/memory"
	"github.com/buildpacks/imgutil/fakes"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// A registry export that declares no artifact still warns of each artifact
// of the previous image whose tag names it (R15.1-1), and saves the working
// image as it is; without a previous image it says nothing.
func TestRegistryTargetWarnsStaleWithoutArtifacts(t *testing.T) {
	t.Parallel()
	_, host := newRegistry(t, false)
	app := host + "/app"
	img, _ := random.Image(64, 1)
	if _, err := commit(t, []string{app + ":latest"}, fixture(t), img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	for _, tc := range []struct {
		name     string
		previous bool
		want     int
	}{{"a previous image with 3 artifacts", true, 3}, {"no previous image", false, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := memory.New()
			opts := []exporter.Option{exporter.WithLogger(&alog.Logger{Handler: h, Level: alog.InfoLevel})}
			if tc.previous {
				opts = append(opts, exporter.WithPreviousImage(app+"@"+d.String()))
			}
			target := exporter.NewRegistryTarget([]string{app + ":latest"}, platform.TagTemplate{}, opts...)
			must(t, target.Plan(nil))
			working := fakes.NewImage(app+":latest", "", nil)
			got, err := target.Wrap(context.Background(), working)
			if err != nil || got != working {
				t.Fatalf("Wrap = %v, %v; want the working image itself", got, err)
			}
			var stale []string
			for _, e := range h.Entries {
				if strings.Contains(e.Message, "was not published for this image") {
					stale = append(stale, e.Message)
				}
			}
			if len(stale) != tc.want {
				t.Fatalf("%d stale warnings, want %d: %q", len(stale), tc.want, stale)
			}
		})
	}
}
