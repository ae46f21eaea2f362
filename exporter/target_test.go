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

// A registry target plans what it publishes: with artifacts (or a signing
// key) it makes the plan, so a tag collision or a reserved tag refuses the
// export before the save; an option's error is Plan's; with neither it
// plans nothing (the stock save).
func TestRegistryTargetPlans(t *testing.T) {
	t.Parallel()
	one := []*artifacts.Artifact{streamFixture(t, "x")}
	twice := []*artifacts.Artifact{streamFixture(t, "x"), streamFixture(t, "y")} // both tag "wasm"
	names := []string{"r.example/app:latest"}
	var ce *CollisionError
	for _, tc := range []struct {
		name    string
		arts    []*artifacts.Artifact
		opts    []Option
		wantErr func(error) bool
		planned bool
	}{
		{name: "nothing to publish", wantErr: isNil},
		{name: "an artifact", arts: one, wantErr: isNil, planned: true},
		{name: "a signing key, no artifact", opts: []Option{WithSigner(nopSigner{})}, wantErr: isNil, planned: true},
		{name: "two artifacts, one tag", arts: twice, wantErr: func(err error) bool { return errors.As(err, &ce) }},
		{name: "the tag of the cache image", arts: one, opts: []Option{WithReservedTags(map[string]string{"the cache image": "r.example/app:wasm"})},
			wantErr: func(err error) bool { return errors.As(err, &ce) }, planned: true},
		{name: "an option's error", arts: one, opts: []Option{WithJobs(0)}, wantErr: func(err error) bool { return err != nil }},
		{name: "an option's error, nothing to publish", opts: []Option{WithJobs(0)}, wantErr: func(err error) bool { return err != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistryTarget(names, platform.TagTemplate{}, tc.opts...).(*registryTarget)
			err := r.Plan(tc.arts)
			if !tc.wantErr(err) {
				t.Fatalf("Plan: %v", err)
			}
			if (r.plan != nil) != tc.planned {
				t.Fatalf("planned %v, want %v", r.plan != nil, tc.planned)
			}
		})
	}
}

func isNil(err error) bool { return err == nil }

// A layout target plans as the registry target does: an artifact makes the
// plan (a tag collision refuses), an option's error is Plan's.
func TestLayoutTargetPlans(t *testing.T) {
	t.Parallel()
	one := []*artifacts.Artifact{streamFixture(t, "x")}
	twice := []*artifacts.Artifact{streamFixture(t, "x"), streamFixture(t, "y")}
	var ce *CollisionError
	for _, tc := range []struct {
		name    string
		arts    []*artifacts.Artifact
		opts    []Option
		wantErr func(error) bool
		planned bool
	}{
		{name: "nothing to publish", wantErr: isNil},
		{name: "an artifact", arts: one, wantErr: isNil, planned: true},
		{name: "two artifacts, one tag", arts: twice, wantErr: func(err error) bool { return errors.As(err, &ce) }},
		{name: "an option's error", arts: one, opts: []Option{WithJobs(0)}, wantErr: func(err error) bool { return err != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := NewLayoutTarget("r.example/app:latest", platform.TagTemplate{}, tc.opts...).(*layoutTarget)
			if err := l.Plan(tc.arts); !tc.wantErr(err) {
				t.Fatalf("Plan: %v", err)
			}
			if (l.plan != nil) != tc.planned {
				t.Fatalf("planned %v, want %v", l.plan != nil, tc.planned)
			}
		})
	}
}

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
