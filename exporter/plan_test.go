package exporter_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

func TestPlanCollisions(t *testing.T) {
	t.Parallel()
	arts := fixture(t) // tags: wasm, junit, sarif
	for _, tc := range []struct {
		name     string
		names    []string
		template string
		wantErr  []string // substrings; empty: no error
		wantTags []string // published tags of artifact 0, one per repository
	}{
		{name: "plain", names: []string{"r.example/app:latest"}, wantTags: []string{"r.example/app:wasm"}},
		{name: "two repositories", names: []string{"r.example/app:latest", "r.example/mirror:v1"},
			wantTags: []string{"r.example/app:wasm", "r.example/mirror:wasm"}},
		{name: "image tag scheme", names: []string{"r.example/app:v1", "r.example/app:latest"}, template: "{image-tag}-{tag}",
			wantTags: []string{"r.example/app:v1-wasm"}},
		{name: "artifact tag equals app tag", names: []string{"r.example/app:latest", "r.example/app:junit"},
			wantErr: []string{`buildpack "examples/reports@0.1.0", layer "reports", file "examples_reports/reports/artifacts.toml": artifact 1 (tag "junit"): published tag "junit" collides with app image tag r.example/app:junit; fix: change the tag, or have the platform set CNB_ARTIFACTS_TAG_TEMPLATE (for example "{image-tag}-{tag}")`}},
		{name: "same tag in another repository is fine", names: []string{"r.example/app:latest", "r.example/other:wasm"},
			wantErr: []string{`app image tag r.example/other:wasm`}},
		{name: "template makes an overlong tag", names: []string{"r.example/app:" + strings.Repeat("x", 125)}, template: "{image-tag}-{tag}",
			wantErr: []string{"tag grammar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := platform.ParseTagTemplate(orDefault(tc.template))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := exporter.NewPlan(tc.names, arts, tmpl, nil)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error")
				}
				if !errors.Is(err, artifacts.ErrInvalid) {
					t.Fatalf("err %v is not artifacts.ErrInvalid", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("err = %v\nwant it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tag := range plan.PublishedTags(0) {
				got = append(got, tag.Name())
			}
			if strings.Join(got, " ") != strings.Join(tc.wantTags, " ") {
				t.Fatalf("tags = %v, want %v", got, tc.wantTags)
			}
		})
	}
}

func orDefault(s string) string {
	if s == "" {
		return platform.DefaultTagTemplate
	}
	return s
}

// A template can turn a valid declared tag into the referrers fallback
// form; that is refused too.
func TestPlanRefusesTemplatedFallbackTag(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	hex := strings.Repeat("ab", 32)
	writeLayer(t, layers, "acme/hex", "l", "[[artifact]]\ntag = \""+hex+"\"\nfile = \"f\"\ntype = \"application/vnd.example\"\n", map[string]string{"f": "x"})
	decls, err := artifacts.Load(layers, []artifacts.Buildpack{{ID: "acme/hex", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := artifacts.Build(decls[0])
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := platform.ParseTagTemplate("{image-tag}-{tag}")
	_, err = exporter.NewPlan([]string{"r.example/app:sha256"}, []*artifacts.Artifact{a}, tmpl, nil)
	if !errors.Is(err, artifacts.ErrInvalid) || !strings.Contains(err.Error(), "referrers fallback tag schema") {
		t.Fatalf("err = %v", err)
	}
}

// Declared and carried artifacts together obey the rules of a declared set:
// one artifact per tag (a *CollisionError naming both) and at most
// artifacts.MaxArtifacts of them.
func TestPlanDeclaredAndCarriedTogether(t *testing.T) {
	t.Parallel()
	base := fixture(t)[0]
	declared := func(bp, tag string) *artifacts.Artifact {
		a := *base
		a.Buildpack, a.Tag = artifacts.Buildpack{ID: bp, Version: "1"}, tag
		return &a
	}
	carried := func(bp, layer, tag, from string) *artifacts.Artifact {
		a := declared(bp, tag)
		a.Layer, a.Source, a.Index = layer, "", 0
		a.CarriedFrom = "r.example/app@sha256:" + strings.Repeat(from, 64)
		return a
	}
	many := func(n int) []*artifacts.Artifact {
		var out []*artifacts.Artifact
		for i := range n {
			if i%2 == 0 {
				out = append(out, declared("examples/many", fmt.Sprintf("d%d", i)))
			} else {
				out = append(out, carried("examples/many", fmt.Sprintf("l%d", i), fmt.Sprintf("c%d", i), "a"))
			}
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		arts    []*artifacts.Artifact
		wantIs  error
		wantErr []string
	}{
		{name: "distinct tags", arts: []*artifacts.Artifact{declared("examples/wasm", "wasm"), carried("examples/helm", "chart", "chart", "a")}},
		{name: "two carried artifacts with one tag", arts: []*artifacts.Artifact{carried("examples/helm", "chart", "same", "a"), carried("examples/other", "notes", "same", "b")},
			wantIs: artifacts.ErrInvalid, wantErr: []string{`published tag "same" collides with`, `buildpack "examples/helm", layer "chart"`, "sha256:aaaa", `buildpack "examples/other@1", layer "notes"`, "sha256:bbbb"}},
		{name: "two versions of one carried artifact", arts: []*artifacts.Artifact{carried("examples/helm", "chart", "same", "a"), carried("examples/helm", "chart", "same", "b")},
			wantIs: artifacts.ErrInvalid, wantErr: []string{`published tag "same" collides with`, "sha256:aaaa", "sha256:bbbb", "have the buildpack write the layer again"}},
		{name: "a declared and a carried artifact with one tag", arts: []*artifacts.Artifact{declared("examples/wasm", "same"), carried("examples/helm", "chart", "same", "a")},
			wantIs: artifacts.ErrInvalid, wantErr: []string{`published tag "same" collides with`, `buildpack "examples/wasm@1"`, `buildpack "examples/helm", layer "chart"`}},
		{name: "exactly the limit", arts: many(artifacts.MaxArtifacts)},
		{name: "one more than the limit", arts: many(artifacts.MaxArtifacts + 1),
			wantIs: artifacts.ErrLimit, wantErr: []string{"1001 artifacts (declared and carried), more than 1000 per export"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := exporter.NewPlan([]string{"r.example/app:latest", "r.example/mirror:latest"}, tc.arts, platform.TagTemplate{}, nil)
			if tc.wantIs == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("err = %v, want %v", err, tc.wantIs)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err = %v\nwant it to contain %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "collides"); n > 1 {
				t.Fatalf("one collision reported %d times (once per repository?):\n%v", n, err)
			}
		})
	}
}
