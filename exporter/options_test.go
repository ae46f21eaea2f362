package exporter_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/buildpacks/lifecycle/log"

	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Each option refuses its invalid values and takes the valid ones.
func TestOptions(t *testing.T) {
	t.Parallel()
	plan, err := exporter.NewPlan([]string{"127.0.0.1:5000/app:latest"}, nil, platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		opt     exporter.Option
		wantErr string
	}{
		{"nil keychain", exporter.WithKeychain(nil), "nil keychain"},
		{"nil logger", exporter.WithLogger(nil), "nil logger"},
		{"logger", exporter.WithLogger(log.NewDefaultLogger(discardWriter{})), ""},
		{"0 jobs", exporter.WithJobs(0), "jobs must be at least 1, got 0"},
		{"1 job", exporter.WithJobs(1), ""},
		{"0 timeout", exporter.WithTimeout(0), "timeout must be positive"},
		{"negative timeout", exporter.WithTimeout(-time.Second), "timeout must be positive"},
		{"1ns timeout", exporter.WithTimeout(time.Nanosecond), ""},
		{"insecure registries", exporter.WithInsecureRegistries([]string{"r.example"}), ""},
		{"stream every file", exporter.WithStreamMinSize(0), ""},
		{"negative stream size", exporter.WithStreamMinSize(-1), "stream size must not be negative"},
		{"0 progress interval", exporter.WithProgressInterval(0), "progress interval must be positive"},
		{"1ns progress interval", exporter.WithProgressInterval(time.Nanosecond), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := exporter.New(plan, tc.opt)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// A commit error says whether a tag moved.
func TestCommitErrorMessage(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	for _, tc := range []struct {
		err  *exporter.CommitError
		want string
	}{
		{&exporter.CommitError{Stage: exporter.StageBlobs, Err: cause}, "export failed while writing blobs; no tag was moved: boom"},
		{&exporter.CommitError{Stage: exporter.StageManifests, Err: cause}, "export failed while writing manifests; no tag was moved: boom"},
		{&exporter.CommitError{Stage: exporter.StageTags, Moved: []string{"r/a:x", "r/a:y"}, NotMoved: []string{"r/a:latest"}, Err: cause},
			"export failed while moving tags: boom; moved: [r/a:x, r/a:y]; not moved: [r/a:latest]"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// Every target validates its options once, when it is made, and its first
// step says so, whether or not there is anything to publish.
func TestTargetsValidateOptions(t *testing.T) {
	t.Parallel()
	bad := exporter.WithJobs(0)
	for name, target := range map[string]exporter.Target{
		"registry": exporter.NewRegistryTarget([]string{"r.example/app:latest"}, platform.TagTemplate{}, bad),
		"layout":   exporter.NewLayoutTarget("r.example/app:latest", platform.TagTemplate{}, bad),
		"daemon":   exporter.NewDaemonTarget("r.example/artifacts", "latest", platform.TagTemplate{}, bad),
	} {
		if err := target.Plan(nil); err == nil || !strings.Contains(err.Error(), "jobs must be at least 1, got 0") {
			t.Errorf("%s target: Plan = %v, want the invalid option", name, err)
		}
	}
}
