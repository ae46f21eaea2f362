package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func mergeTestdata(t *testing.T) []Document {
	t.Helper()
	srcs, err := Find("testdata/layers", testGroup, testLauncher())
	if err != nil {
		t.Fatal(err)
	}
	docs, err := Merge(srcs, Options{Name: "registry.example/app"})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// The merged documents of the testdata are golden
// (go test ./sbom -run TestMergeGolden -update).
func TestMergeGolden(t *testing.T) {
	t.Parallel()
	docs := mergeTestdata(t)
	if got := formatNames(docs); got != "cdx spdx syft" {
		t.Fatalf("formats %q, want cdx spdx syft", got)
	}
	for _, d := range docs {
		golden := filepath.Join("testdata", "golden", "merged."+d.Format.Ext)
		content := d.Content
		if d.Parts != nil {
			content = bytes.Join(d.Parts, []byte("\n---\n"))
		}
		ann, err := json.MarshalIndent(map[string]any{"annotations": d.Annotations, "omitted": d.Omitted}, "", "  ")
		must(t, err)
		content = append(append(slices.Clip(content), "\n=== annotations\n"...), ann...)
		if *update {
			must(t, os.WriteFile(golden, content, 0o644))
			continue
		}
		want, err := os.ReadFile(golden)
		must(t, err)
		if !bytes.Equal(content, want) {
			t.Errorf("%s differs from the merge (rerun with -update and review the diff):\n%s", golden, content)
		}
	}
}

func formatNames(docs []Document) string {
	var names []string
	for _, d := range docs {
		names = append(names, d.Format.Name)
	}
	return strings.Join(names, " ")
}

// Merging the same inputs gives the same bytes: twice in a row, and from a
// copy of the layers directory elsewhere whose files were written in
// another order.
func TestMergeReproducible(t *testing.T) {
	t.Parallel()
	first := mergeTestdata(t)
	second := mergeTestdata(t)

	// A copy, written in reverse order, at another path.
	dir := t.TempDir()
	var files []string
	must(t, filepath.WalkDir("testdata/layers", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}))
	slices.Reverse(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		must(t, err)
		rel, _ := filepath.Rel("testdata/layers", f)
		writeTree(t, dir, map[string]string{filepath.ToSlash(rel): string(data)})
		time.Sleep(time.Millisecond) // distinct times
	}
	srcs, err := Find(dir, testGroup, testLauncher())
	must(t, err)
	third, err := Merge(srcs, Options{Name: "registry.example/app"})
	must(t, err)
	for i := range first {
		for j, other := range [][]Document{second, third} {
			if !bytes.Equal(first[i].Content, other[i].Content) || !slices.EqualFunc(first[i].Parts, other[i].Parts, bytes.Equal) {
				t.Errorf("%s: merge %d differs from the first", first[i].Format.Name, j+2)
			}
			if fmt.Sprint(first[i].Annotations) != fmt.Sprint(other[i].Annotations) {
				t.Errorf("%s: annotations of merge %d differ: %v, %v", first[i].Format.Name, j+2, first[i].Annotations, other[i].Annotations)
			}
		}
	}
	// Another input changes the identifiers.
	srcs = srcs[1:]
	fourth, err := Merge(srcs, Options{Name: "registry.example/app"})
	must(t, err)
	var a, b cdx.BOM
	must(t, json.Unmarshal(first[0].Content, &a))
	must(t, json.Unmarshal(fourth[0].Content, &b))
	if a.SerialNumber == b.SerialNumber {
		t.Errorf("serial number %s is the same for other inputs", a.SerialNumber)
	}
}

// Hostile or wrong files fail their format only, with an error naming the
// buildpack, layer and file; the other formats are still merged.
func TestMergeHostileFiles(t *testing.T) {
	t.Parallel()
	const cdxDoc = `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"x"}]}`
	const spdxDoc = `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"x","documentNamespace":"https://example.com/x","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: x"]}}`
	const syftDoc = `{"artifacts":[],"schema":{"version":"16.0.24","url":"https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.24.json"}}`
	const file = "sbom/launch/example_a/web/sbom.cdx.json"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string) // makes the cdx file
		want  error
		msg   string
	}{
		{"fifo", func(t *testing.T, p string) { must(t, syscall.Mkfifo(p, 0o644)) }, ErrNotRegular, "FIFO"},
		{"symlink inside", func(t *testing.T, p string) {
			must(t, os.WriteFile(p+".real", []byte(cdxDoc), 0o644))
			must(t, os.Symlink(filepath.Base(p)+".real", p))
		}, ErrNotRegular, "symbolic link"},
		{"symlink to /dev/zero", func(t *testing.T, p string) { must(t, os.Symlink("/dev/zero", p)) }, ErrNotRegular, "symbolic link"},
		{"directory", func(t *testing.T, p string) { must(t, os.Mkdir(p, 0o755)) }, ErrNotRegular, "directory"},
		{"huge", func(t *testing.T, p string) {
			f, err := os.Create(p)
			must(t, err)
			must(t, f.Truncate(MaxFileSize+1))
			must(t, f.Close())
		}, ErrLimit, "more than"},
		{"invalid JSON", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte(`{"bomFormat": "CycloneDX",`), 0o644)) }, ErrInvalid, "invalid SBOM"},
		{"SPDX under a cdx name", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte(spdxDoc), 0o644)) }, ErrInvalid, "not a CycloneDX JSON BOM"},
		{"Syft under a cdx name", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte(syftDoc), 0o644)) }, ErrInvalid, "not a CycloneDX JSON BOM"},
		{"JSON array", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte(`[]`), 0o644)) }, ErrInvalid, "invalid SBOM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{
				"sbom/launch/example_a/web/sbom.spdx.json": spdxDoc,
				"sbom/launch/example_a/web/sbom.syft.json": syftDoc,
			})
			tc.setup(t, filepath.Join(dir, filepath.FromSlash(file)))
			srcs, err := Find(dir, testGroup, Launcher{})
			must(t, err)
			var docs []Document
			within(t, 10*time.Second, func() { docs, err = Merge(srcs, Options{}) })
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, tc.want) {
				t.Fatalf("Merge error = %v, want a *FormatError matching %v", err, tc.want)
			}
			if fe.Format != CycloneDX || fe.Source.Path != file {
				t.Errorf("FormatError format %s, source %s; want cdx, %s", fe.Format.Name, fe.Source.Path, file)
			}
			for _, s := range []string{`SBOM format cdx: buildpack "example/a@1.0.0", layer "web", file "` + file + `"`, tc.msg} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if got := formatNames(docs); got != "spdx syft" {
				t.Errorf("formats merged: %q, want spdx syft", got)
			}
		})
	}
}

// The other formats' names hold the other formats' checks.
func TestMergeWrongFormat(t *testing.T) {
	t.Parallel()
	cdxDoc, err := os.ReadFile("testdata/layers/sbom/launch/example_a/web/sbom.cdx.json")
	must(t, err)
	for _, f := range []Format{SPDX, Syft} {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"sbom/launch/example_a/web/" + f.Ext: string(cdxDoc)})
		srcs, err := Find(dir, testGroup, Launcher{})
		must(t, err)
		_, err = Merge(srcs, Options{})
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) || fe.Format != f {
			t.Errorf("%s: Merge error = %v, want a *FormatError of %s matching ErrInvalid", f.Name, err, f.Name)
		}
	}
}

// The number of files, and a format's files together, are bounded too:
// exactly the limit is read, one byte more is refused, naming the file
// that crosses it.
func TestMergeTotalLimit(t *testing.T) {
	t.Parallel()
	srcs := make([]Source, MaxSources+1)
	if _, err := Merge(srcs, Options{}); !errors.Is(err, ErrLimit) {
		t.Errorf("Merge of %d sources: %v, want ErrLimit", len(srcs), err)
	}
	all, err := Find("testdata/layers", testGroup, Launcher{})
	must(t, err)
	var cdxSrcs []Source
	var total int64
	for _, s := range all {
		if s.Format == CycloneDX {
			cdxSrcs = append(cdxSrcs, s)
			fi, err := os.Stat(filepath.Join(s.Dir, s.Path))
			must(t, err)
			total += fi.Size()
		}
	}
	roots := map[string]*os.Root{}
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	if _, err := mergeFormat(CycloneDX, cdxSrcs, roots, Options{}, total); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	_, err = mergeFormat(CycloneDX, cdxSrcs, roots, Options{}, total-1)
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrLimit) || fe.Source != cdxSrcs[len(cdxSrcs)-1] {
		t.Errorf("one byte over: %v, want ErrLimit naming %s", err, cdxSrcs[len(cdxSrcs)-1].Path)
	}
}

func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
	}
}

// Annotations stay under MaxAnnotationValue, and say how many sources they
// leave out.
func TestBoundedList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		items []string
		max   int
		want  string
	}{
		{[]string{"a", "b"}, 10, "a,b"},
		{[]string{"aaaa", "bbbb", "cccc"}, 12, "aaaa,+2 more"},
		{[]string{"aaaa", "bbbb", "cccc"}, 14, "aaaa,bbbb,cccc"},
		{[]string{"aaaaaaaaaaaa"}, 8, "+1 more"},
		{nil, 8, ""},
	} {
		if got := boundedList(tc.items, tc.max); got != tc.want || len(got) > tc.max {
			t.Errorf("boundedList(%q, %d) = %q, want %q", tc.items, tc.max, got, tc.want)
		}
	}
	var many []Source
	for i := range 1000 {
		many = append(many, Source{Buildpack: testGroup[0], Layer: fmt.Sprintf("layer-with-a-long-name-%04d", i)})
	}
	a := annotations(many)
	if v := a[AnnotationSources]; len(v) > MaxAnnotationValue || !strings.HasSuffix(v, " more") {
		t.Errorf("%s: %d bytes, ends %q", AnnotationSources, len(v), v[max(0, len(v)-20):])
	}
	if v := a[AnnotationBuildpacks]; v != "example/a@1.0.0" {
		t.Errorf("%s = %q", AnnotationBuildpacks, v)
	}
	if got := escapeListItem("a,b%c"); got != "a%2Cb%25c" {
		t.Errorf("escapeListItem = %q", got)
	}
}
