package exporter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apex/log"
	"github.com/apex/log/handlers/memory"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
)

type nopSigner struct{}

func (nopSigner) Sign(context.Context, []byte) ([]byte, error) { return []byte("sig"), nil }

// What a daemon target decides before the save, without a daemon: with a
// repository it plans the artifacts (so a tag collision refuses the export)
// and announces them; without one it skips them with one warning; with no
// artifacts it says nothing; a signing key is ignored with one warning.
func TestDaemonTargetDecides(t *testing.T) {
	t.Parallel()
	one := []*artifacts.Artifact{streamFixture(t, "x")}
	twice := []*artifacts.Artifact{streamFixture(t, "x"), streamFixture(t, "y")} // both tag "wasm"
	for _, tc := range []struct {
		name     string
		repo     string
		arts     []*artifacts.Artifact
		signer   bool
		wantErr  bool
		wantLogs []string // substrings, in order
	}{
		{name: "no artifacts", repo: "r.example/artifacts", arts: nil},
		{name: "a repository: planned and announced", repo: "r.example/artifacts", arts: one, wantLogs: []string{"Adding artifact"}},
		{name: "a repository: a tag collision refuses", repo: "r.example/artifacts", arts: twice, wantErr: true},
		{name: "no repository: skipped, collisions not checked", arts: twice, wantLogs: []string{"Skipping 2 artifact(s), " + DaemonSkipReason}},
		{name: "a signing key is ignored", repo: "r.example/artifacts", arts: one, signer: true, wantLogs: []string{"Not signing", "Adding artifact"}},
		{name: "a signing key, no artifacts", signer: true, wantLogs: []string{"Not signing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := memory.New()
			opts := []Option{WithLogger(&log.Logger{Handler: h, Level: log.InfoLevel})}
			if tc.signer {
				opts = append(opts, WithSigner(nopSigner{}))
			}
			target := NewDaemonTarget(tc.repo, "latest", platform.TagTemplate{}, opts...)
			err := target.Plan(tc.arts)
			var ce *CollisionError
			if tc.wantErr != errors.As(err, &ce) {
				t.Fatalf("Plan: %v; want a collision: %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if _, err := target.Wrap(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range h.Entries {
				got = append(got, e.Message)
			}
			if len(got) != len(tc.wantLogs) {
				t.Fatalf("logs %q, want %q", got, tc.wantLogs)
			}
			for i, w := range tc.wantLogs {
				if !strings.Contains(got[i], w) {
					t.Errorf("log %d: %q, want %q in it", i, got[i], w)
				}
			}
		})
	}
}
