package exporter

import (
	"context"
	"errors"
	"testing"

	"github.com/buildpacks/lifecycle/platform/files"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Without artifacts every target leaves the working image and the save as
// they are, so the export is stock's; a daemon target without a repository
// reports every artifact skipped.
func TestTargetsWithoutPublishing(t *testing.T) {
	t.Parallel()
	arts := []*artifacts.Artifact{streamFixture(t, "x")}
	saveErr := errors.New("save failed")
	for _, tc := range []struct {
		name        string
		target      Target
		arts        []*artifacts.Artifact
		saveErr     error
		wantSkipped string
		wantN       int
	}{
		{"registry, no artifacts", NewRegistryTarget([]string{"r.example/app:latest"}, platform.TagTemplate{}), nil, nil, "", 0},
		{"registry, no artifacts, save failed", NewRegistryTarget([]string{"r.example/app:latest"}, platform.TagTemplate{}), nil, saveErr, "", 0},
		{"layout, no artifacts", NewLayoutTarget("r.example/app:latest", platform.TagTemplate{}), nil, nil, "", 0},
		{"daemon, no artifacts", NewDaemonTarget("", "latest", platform.TagTemplate{}), nil, nil, "", 0},
		{"daemon without repository skips", NewDaemonTarget("", "latest", platform.TagTemplate{}), arts, nil, DaemonSkipReason, 1},
		{"daemon, save failed", NewDaemonTarget("", "latest", platform.TagTemplate{}), arts, saveErr, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.target.Plan(tc.arts); err != nil {
				t.Fatal(err)
			}
			img, err := tc.target.Wrap(context.Background(), nil)
			if err != nil || img != nil {
				t.Fatalf("Wrap = %v, %v; want the working image itself", img, err)
			}
			res, err := tc.target.Finish(context.Background(), files.ImageReport{ImageID: "abcd"}, tc.saveErr)
			if !errors.Is(err, tc.saveErr) {
				t.Fatalf("Finish error %v, want %v", err, tc.saveErr)
			}
			if tc.saveErr != nil {
				return
			}
			if res.Skipped != tc.wantSkipped || len(res.Artifacts) != tc.wantN {
				t.Fatalf("Result %+v", res)
			}
			for _, p := range res.Artifacts {
				if len(p.Refs) != 0 || p.Manifest.Raw != nil {
					t.Fatalf("a skipped artifact has refs or a manifest: %+v", p)
				}
			}
		})
	}
}
