package exporter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/buildpacks/imgutil/fakes"
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
			working := fakes.NewImage("r.example/app:latest", "", nil)
			img, err := tc.target.Wrap(context.Background(), working)
			if err != nil || img != working {
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

// A registry or layout target plans what it publishes: with artifacts (or,
// for the registry, a signing key) it makes the plan, so a tag collision or
// (registry) a reserved tag refuses the export before the save; an
// option's error is Plan's; with neither it plans nothing (the stock save).
func TestTargetsPlan(t *testing.T) {
	t.Parallel()
	one := []*artifacts.Artifact{streamFixture(t, "x")}
	twice := []*artifacts.Artifact{streamFixture(t, "x"), streamFixture(t, "y")} // both tag "wasm"
	// plan makes a target of the kind and returns its Plan's error and
	// whether it planned.
	plan := map[string]func(arts []*artifacts.Artifact, opts []Option) (error, bool){
		"registry": func(arts []*artifacts.Artifact, opts []Option) (error, bool) {
			r := NewRegistryTarget([]string{"r.example/app:latest"}, platform.TagTemplate{}, opts...).(*registryTarget)
			err := r.Plan(arts)
			return err, r.plan != nil
		},
		"layout": func(arts []*artifacts.Artifact, opts []Option) (error, bool) {
			l := NewLayoutTarget("r.example/app:latest", platform.TagTemplate{}, opts...).(*layoutTarget)
			err := l.Plan(arts)
			return err, l.plan != nil
		},
	}
	both, registryOnly := []string{"registry", "layout"}, []string{"registry"}
	var ce *CollisionError
	isCollision := func(err error) bool { return errors.As(err, &ce) }
	isErr := func(err error) bool { return err != nil }
	for _, tc := range []struct {
		name    string
		kinds   []string
		arts    []*artifacts.Artifact
		opts    []Option
		wantErr func(error) bool
		planned bool
	}{
		{name: "nothing to publish", kinds: both, wantErr: isNil},
		{name: "an artifact", kinds: both, arts: one, wantErr: isNil, planned: true},
		{name: "a signing key, no artifact", kinds: registryOnly, opts: []Option{WithSigner(nopSigner{})}, wantErr: isNil, planned: true},
		{name: "two artifacts, one tag", kinds: both, arts: twice, wantErr: isCollision},
		{name: "the tag of the cache image", kinds: registryOnly, arts: one, opts: []Option{WithReservedTags(map[string]string{"the cache image": "r.example/app:wasm"})},
			wantErr: isCollision, planned: true},
		{name: "an option's error", kinds: both, arts: one, opts: []Option{WithJobs(0)}, wantErr: isErr},
		{name: "an option's error, nothing to publish", kinds: registryOnly, opts: []Option{WithJobs(0)}, wantErr: isErr},
	} {
		for _, kind := range tc.kinds {
			t.Run(kind+": "+tc.name, func(t *testing.T) {
				t.Parallel()
				err, planned := plan[kind](tc.arts, tc.opts)
				if !tc.wantErr(err) {
					t.Fatalf("Plan: %v", err)
				}
				if planned != tc.planned {
					t.Fatalf("planned %v, want %v", planned, tc.planned)
				}
			})
		}
	}
}

func isNil(err error) bool { return err == nil }

// Two artifacts of one export that declare one tag: the error names the
// other by buildpack, layer, file and its place in that file (1-based, as
// every declaration error counts).
func TestPlanNamesTheOtherOfACollision(t *testing.T) {
	t.Parallel()
	twice := []*artifacts.Artifact{streamFixture(t, "x"), streamFixture(t, "y")}
	_, err := NewPlan([]string{"r.example/app:latest"}, twice, platform.TagTemplate{}, nil)
	want := `collides with the artifact of buildpack "examples/wasm@1", layer "wasm", file "examples_wasm/wasm/artifacts.toml", artifact 1`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v\nwant it to contain %s", err, want)
	}
}
