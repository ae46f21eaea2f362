package exporter

import (
	"errors"
	"slices"
	"testing"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// A failed wave stops the tag step: the commit error lists the tags moved,
// in order, and every tag not moved, of that wave and of the later ones,
// once each.
func TestRunWavesStopsAtAFailure(t *testing.T) {
	t.Parallel()
	ok := func(ref string) move { return move{ref: ref, do: func() error { return nil }} }
	boom := errors.New("refused")
	fail := move{ref: "r/app:b2", do: func() error { return boom }}
	moved, err := runWaves(1, []wave{{ok("r/app:a")}, {ok("r/app:b1"), fail}, {ok("r/app:c")}, {ok("r/app:latest")}})
	var ce *CommitError
	if !errors.As(err, &ce) || !errors.Is(err, boom) {
		t.Fatalf("err %v, want a CommitError of the refusal", err)
	}
	if want := []string{"r/app:a", "r/app:b1"}; !slices.Equal(moved, want) || !slices.Equal(ce.Moved, want) {
		t.Fatalf("moved %v (error: %v), want %v", moved, ce.Moved, want)
	}
	if want := []string{"r/app:b2", "r/app:c", "r/app:latest"}; !slices.Equal(ce.NotMoved, want) {
		t.Fatalf("not moved %v, want %v", ce.NotMoved, want)
	}
}

// Logs name an artifact's declared tag, or say it has none.
func TestTagLabel(t *testing.T) {
	t.Parallel()
	for tag, want := range map[string]string{"wasm": "tag 'wasm'", "": "untagged"} {
		if got := tagLabel(&artifacts.Artifact{Declaration: artifacts.Declaration{Tag: tag}}); got != want {
			t.Errorf("tagLabel(%q) = %q, want %q", tag, got, want)
		}
	}
}

// The repositories carried artifacts mount their blobs from, in the
// registry asked about: each once; declared artifacts mount from nowhere.
func TestMountSources(t *testing.T) {
	t.Parallel()
	carried := func(from string) *artifacts.Artifact {
		a := streamFixture(t, "x")
		a.CarriedFrom = from
		return a
	}
	d := "@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	plan := &Plan{artifacts: []*artifacts.Artifact{
		streamFixture(t, "declared"),
		carried("r.example/old" + d),
		carried("r.example/old" + d),
		carried("r.example/other" + d),
		carried("elsewhere.example/old" + d),
	}, template: platform.TagTemplate{}}
	tx := &Transaction{plan: plan}
	var got []string
	for _, r := range tx.mountSources("r.example") {
		got = append(got, r.Name())
	}
	if want := []string{"r.example/old", "r.example/other"}; !slices.Equal(got, want) {
		t.Fatalf("mount sources %v, want %v", got, want)
	}
}
