package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/buildpacks/imgutil"
	"github.com/buildpacks/lifecycle/cmd"
	lplatform "github.com/buildpacks/lifecycle/platform"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	decl := &artifacts.DeclarationError{Buildpack: artifacts.Buildpack{ID: "a/b", Version: "1"}, Layer: "l", File: "a_b/l/artifacts.toml", Err: errors.New("bad")}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"invalid declaration", decl, platform.CodeInvalidArtifacts},
		{"several invalid declarations", errors.Join(decl, decl), platform.CodeInvalidArtifacts},
		{"tag collision", &exporter.CollisionError{Tag: "latest"}, platform.CodeInvalidArtifacts},
		{"blob refused", &exporter.CommitError{Stage: exporter.StageBlobs, Err: errors.New("403")}, platform.CodeRegistryFailed},
		{"manifest refused", fmt.Errorf("saving image: %w", &exporter.CommitError{Stage: exporter.StageManifests, Err: errors.New("400")}), platform.CodeRegistryFailed},
		{"first tag refused: nothing moved", &exporter.CommitError{Stage: exporter.StageTags, NotMoved: []string{"r/a:x"}, Err: errors.New("403")}, platform.CodeRegistryFailed},
		{"tag step half done", &exporter.CommitError{Stage: exporter.StageTags, Moved: []string{"r/a:wasm"}, NotMoved: []string{"r/a:latest"}, Err: errors.New("403")}, platform.CodeTagsIncomplete},
		{"artifacts of a reused layer not carried", &carryError{probs: []exporter.CarryProblem{{Err: errors.New("MANIFEST_UNKNOWN")}}}, platform.CodeRegistryFailed},
		{"a name names another image", fmt.Errorf("reattach: %w", &nameError{name: "r/a:v1", names: "sha256:1", want: "sha256:2"}), platform.CodeInvalidArtifacts},
		{"artifacts to re-attach not read", &readArtifactsError{registry.ErrReferrersUnknown}, platform.CodeRegistryFailed},
		{"stock failure", imgutil.SaveError{Errors: []imgutil.SaveDiagnostic{{ImageName: "r/a", Cause: errors.New("x")}}}, 62},
		{"other", errors.New("layer factory failed"), 62},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := exitCode(tc.err, lplatform.NewPlatformFor("0.13"))
			var fail *cmd.ErrorFail
			if !errors.As(err, &fail) || fail.Code != tc.want {
				t.Fatalf("exitCode(%v) = %v, want code %d", tc.err, err, tc.want)
			}
		})
	}
}

// The rebaser keeps lifecycle's rebase error for what is not the export
// transaction's, and the export's codes for what is.
func TestRebaseExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"stock rebase failure", errors.New("run image is not compatible"), 72},
		{"manifest refused", &exporter.CommitError{Stage: exporter.StageManifests, Err: errors.New("400")}, platform.CodeRegistryFailed},
		{"tag step half done", &exporter.CommitError{Stage: exporter.StageTags, Moved: []string{"r/a:wasm"}, Err: errors.New("403")}, platform.CodeTagsIncomplete},
		{"tag collision", &exporter.CollisionError{Tag: "latest"}, platform.CodeInvalidArtifacts},
		{"artifacts to carry not read", fmt.Errorf("rebase: %w", &readArtifactsError{errors.New("503")}), platform.CodeRegistryFailed},
		{"an artifact's file failed", fmt.Errorf("upload: %w", artifacts.ErrFile), 62},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := rebaseExitCode(tc.err, lplatform.NewPlatformFor("0.13"))
			var fail *cmd.ErrorFail
			if !errors.As(err, &fail) || fail.Code != tc.want {
				t.Fatalf("rebaseExitCode(%v) = %v, want code %d", tc.err, err, tc.want)
			}
		})
	}
}
