package sbom

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
)

// cdxComponents counts the components of a BOM (metadata.component and
// every nested component) by type, name, version and purl.
func cdxComponents(b *cdx.BOM, skip func(c cdx.Component) bool) map[string]int {
	out := map[string]int{}
	var walk func(cs *[]cdx.Component)
	add := func(c cdx.Component) {
		if !skip(c) {
			out[fmt.Sprintf("%s %s %s %s", c.Type, c.Name, c.Version, c.PackageURL)]++
		}
		walk(c.Components)
	}
	walk = func(cs *[]cdx.Component) {
		if cs != nil {
			for _, c := range *cs {
				add(c)
			}
		}
	}
	if b.Metadata != nil && b.Metadata.Component != nil {
		add(*b.Metadata.Component)
	}
	walk(b.Components)
	return out
}

// The merged BOM holds, component for component, the union of the input
// BOMs' components, plus the app and one component per source; its
// bom-refs are unique and every dependency names one of them.
func TestMergeCycloneDXIsTheUnion(t *testing.T) {
	t.Parallel()
	srcs, err := Find("testdata/layers", testGroup, testLauncher())
	must(t, err)
	docs, err := Merge(srcs, Options{})
	must(t, err)
	want := map[string]int{}
	for _, s := range srcs {
		if s.Format != CycloneDX {
			continue
		}
		data, err := os.ReadFile(s.Dir + "/" + s.Path)
		must(t, err)
		b, err := parseCycloneDX(data)
		must(t, err)
		for k, n := range cdxComponents(b, func(cdx.Component) bool { return false }) {
			want[k] += n
		}
	}
	merged, err := parseCycloneDX(docs[0].Content)
	must(t, err)
	got := cdxComponents(merged, isOurs)
	if !maps.Equal(got, want) {
		t.Errorf("merged components:\n%v\nwant the inputs':\n%v", got, want)
	}
	checkCycloneDXRefs(t, merged)
	// Scanners read the top level only (Trivy: bom.components): every
	// input's top-level components and metadata.component are there.
	wantTop, gotTop := map[string]int{}, map[string]int{}
	for _, s := range srcs {
		if s.Format != CycloneDX {
			continue
		}
		data, err := os.ReadFile(s.Dir + "/" + s.Path)
		must(t, err)
		b, err := parseCycloneDX(data)
		must(t, err)
		for k, n := range topLevel(b) {
			wantTop[k] += n
		}
	}
	layers := 0
	for k, n := range topLevel(merged) {
		if strings.HasPrefix(k, "application ") && strings.Contains(k, "io.buildpacks.layer") {
			layers += n
			continue
		}
		gotTop[k] += n
	}
	if !maps.Equal(gotTop, wantTop) {
		t.Errorf("top-level components:\n%v\nwant the inputs':\n%v", gotTop, wantTop)
	}
	if layers != len(docs[0].Sources) {
		t.Errorf("%d layer components, want one per source (%d)", layers, len(docs[0].Sources))
	}
}

// topLevel counts metadata.component and the top-level components, by
// type, name, version, purl and, for ours, bom-ref prefix.
func topLevel(b *cdx.BOM) map[string]int {
	out := map[string]int{}
	cs := []cdx.Component{}
	if b.Metadata != nil && b.Metadata.Component != nil {
		cs = append(cs, *b.Metadata.Component)
	}
	if b.Components != nil {
		cs = append(cs, *b.Components...)
	}
	for _, c := range cs {
		if c.BOMRef == appRef {
			continue
		}
		k := fmt.Sprintf("%s %s %s %s", c.Type, c.Name, c.Version, c.PackageURL)
		if isOurs(c) {
			k += " io.buildpacks.layer"
		}
		out[k]++
	}
	return out
}

// checkCycloneDXRefs checks that bom-refs are unique and dependencies name
// them.
func checkCycloneDXRefs(t *testing.T, b *cdx.BOM) {
	t.Helper()
	refs := map[string]int{}
	var walk func(cs *[]cdx.Component)
	walk = func(cs *[]cdx.Component) {
		if cs == nil {
			return
		}
		for _, c := range *cs {
			if c.BOMRef != "" {
				refs[c.BOMRef]++
			}
			walk(c.Components)
		}
	}
	walk(&[]cdx.Component{*b.Metadata.Component})
	walk(b.Components)
	for r, n := range refs {
		if n > 1 {
			t.Errorf("bom-ref %q appears %d times", r, n)
		}
	}
	if b.Dependencies == nil {
		return
	}
	seen := map[string]bool{}
	for _, d := range *b.Dependencies {
		if seen[d.Ref] {
			t.Errorf("dependency %q listed twice", d.Ref)
		}
		seen[d.Ref] = true
		names := []string{d.Ref}
		if d.Dependencies != nil {
			names = append(names, *d.Dependencies...)
		}
		for _, r := range names {
			if refs[r] == 0 {
				t.Errorf("dependency names %q, which no component has", r)
			}
		}
	}
}

// The merged SPDX document holds, package for package and file for file,
// the union of the inputs', plus the app and one package per source; its
// identifiers are unique and every relationship names one of them.
func TestMergeSPDXIsTheUnion(t *testing.T) {
	t.Parallel()
	srcs, err := Find("testdata/layers", testGroup, testLauncher())
	must(t, err)
	docs, err := Merge(srcs, Options{})
	must(t, err)
	var spdxSrcs []Source
	for _, s := range srcs {
		if s.Format == SPDX {
			spdxSrcs = append(spdxSrcs, s)
		}
	}
	var wantPkgs, wantFiles []string
	for _, s := range spdxSrcs {
		data, err := os.ReadFile(s.Dir + "/" + s.Path)
		must(t, err)
		d, err := parseSPDX(data)
		must(t, err)
		for _, p := range d.Packages {
			wantPkgs = append(wantPkgs, p.PackageName+" "+p.PackageVersion)
		}
		for _, f := range d.Files {
			wantFiles = append(wantFiles, f.FileName)
		}
	}
	merged, err := spdxjson.Read(bytes.NewReader(docs[1].Content))
	must(t, err)
	ids := map[string]bool{"DOCUMENT": true}
	var gotPkgs, gotFiles []string
	for _, p := range merged.Packages {
		if ids[string(p.PackageSPDXIdentifier)] {
			t.Errorf("SPDXID %s repeated", p.PackageSPDXIdentifier)
		}
		ids[string(p.PackageSPDXIdentifier)] = true
		if !strings.HasPrefix(string(p.PackageSPDXIdentifier), "io.buildpacks.") {
			gotPkgs = append(gotPkgs, p.PackageName+" "+p.PackageVersion)
		}
	}
	for _, f := range merged.Files {
		ids[string(f.FileSPDXIdentifier)] = true
		gotFiles = append(gotFiles, f.FileName)
	}
	slices.Sort(gotPkgs)
	slices.Sort(wantPkgs)
	if !slices.Equal(gotPkgs, wantPkgs) || !slices.Equal(gotFiles, wantFiles) {
		t.Errorf("merged packages %q files %q, want %q %q", gotPkgs, gotFiles, wantPkgs, wantFiles)
	}
	if n := len(merged.Packages) - len(gotPkgs); n != 1+len(spdxSrcs) {
		t.Errorf("%d packages of ours, want the app and one per source (%d)", n, 1+len(spdxSrcs))
	}
	describes := 0
	for _, r := range merged.Relationships {
		for _, e := range []string{string(r.RefA.ElementRefID), string(r.RefB.ElementRefID)} {
			if e != "" && !ids[e] {
				t.Errorf("relationship %v names %s, which the document does not hold", r, e)
			}
		}
		if r.Relationship == "DESCRIBES" && r.RefA.ElementRefID == "DOCUMENT" {
			describes++
			if r.RefB.ElementRefID != spdxAppID {
				t.Errorf("DESCRIBES %v, want DOCUMENT DESCRIBES the app", r)
			}
		}
	}
	if describes != 1 {
		t.Errorf("%d DESCRIBES relationships, want 1 (the document describes the app only)", describes)
	}
}

// Real SBOMs, made by syft (hack/sbom): the launcher's, under three layers
// (every identifier collides), and the lifecycle binaries' when `make build`
// made them. The merges are still the unions, with unique identifiers.
func TestMergeRealSBOMsWithCollisions(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for _, f := range Formats {
		data, err := os.ReadFile("testdata/launcher/launcher." + f.Ext)
		must(t, err)
		for _, l := range []string{"one", "two", "three"} {
			files["sbom/launch/example_a/"+l+"/"+f.Ext] = string(data)
		}
		for _, bin := range []string{"lifecycle", "lifecycle-artifacts"} {
			if data, err := os.ReadFile("../out/lifecycle/" + bin + "." + f.Ext); err == nil {
				files["sbom/launch/example_b/"+bin+"/"+f.Ext] = string(data)
			}
		}
	}
	dir := t.TempDir()
	writeTree(t, dir, files)
	srcs, err := Find(dir, testGroup, Launcher{})
	must(t, err)
	if len(srcs) < 9 {
		t.Fatalf("%d sources", len(srcs))
	}
	docs, err := Merge(srcs, Options{})
	must(t, err)
	if got := formatNames(docs); got != "cdx spdx syft" {
		t.Fatalf("formats %q", got)
	}
	want := map[string]int{}
	wantPkgs := 0
	for _, s := range srcs {
		data, err := os.ReadFile(dir + "/" + s.Path)
		must(t, err)
		switch s.Format {
		case CycloneDX:
			b, err := parseCycloneDX(data)
			must(t, err)
			for k, n := range cdxComponents(b, func(cdx.Component) bool { return false }) {
				want[k] += n
			}
		case SPDX:
			d, err := parseSPDX(data)
			must(t, err)
			wantPkgs += len(d.Packages)
		}
	}
	merged, err := parseCycloneDX(docs[0].Content)
	must(t, err)
	if got := cdxComponents(merged, isOurs); !maps.Equal(got, want) {
		t.Errorf("merged components differ from the inputs': %d kinds, want %d", len(got), len(want))
	}
	checkCycloneDXRefs(t, merged)
	d, err := parseSPDX(docs[1].Content)
	must(t, err)
	ids := map[string]bool{}
	for _, p := range d.Packages {
		if ids[string(p.PackageSPDXIdentifier)] {
			t.Errorf("SPDXID %s repeated", p.PackageSPDXIdentifier)
		}
		ids[string(p.PackageSPDXIdentifier)] = true
	}
	if got := len(d.Packages) - 1 - len(docs[1].Sources); got != wantPkgs {
		t.Errorf("%d packages, want the inputs' %d", got, wantPkgs)
	}
	if len(docs[2].Parts) != len(docs[2].Sources) {
		t.Errorf("syft: %d parts for %d sources", len(docs[2].Parts), len(docs[2].Sources))
	}
}

// isOurs reports whether c is the app or a source's component, which the
// merge adds; a source's renamed bom-ref may start as theirs do.
func isOurs(c cdx.Component) bool {
	if c.BOMRef == appRef {
		return true
	}
	if c.Properties != nil {
		for _, p := range *c.Properties {
			if p.Name == propFile {
				return true
			}
		}
	}
	return false
}
