package sbom

import (
	"os"
	"path/filepath"
	"testing"
)

// seed adds the testdata documents whose name ends in ext to f's corpus,
// and a few broken ones.
func seed(f *testing.F, ext string) {
	f.Helper()
	files, err := filepath.Glob("testdata/*/*" + ext)
	if err != nil {
		f.Fatal(err)
	}
	more, _ := filepath.Glob("testdata/layers/sbom/launch/*/*/" + ext)
	top, _ := filepath.Glob("testdata/layers/sbom/launch/*/" + ext)
	for _, p := range append(append(files, more...), top...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"", "{}", "[]", "null", `{"bomFormat":"CycloneDX","specVersion":"1.7"}`, `{"spdxVersion":"SPDX-2.3"}`,
		`{"schema":{"version":"16","url":"anchore/syft"}}`} {
		f.Add([]byte(s))
	}
}

// A parser and a merge of any bytes end with a document or an error, never
// a panic.
func FuzzMergeCycloneDX(f *testing.F) {
	seed(f, CycloneDX.Ext)
	f.Fuzz(func(t *testing.T, data []byte) {
		src := Source{Buildpack: testGroup[0], Layer: "web", Format: CycloneDX, Path: "x"}
		if _, err := parseCycloneDX(data); err != nil {
			return
		}
		// Merged with itself: every bom-ref collides.
		out, _, err := mergeCycloneDX([]Source{src, src}, [][]byte{data, data}, Options{Name: DefaultName})
		if err != nil {
			return
		}
		if _, err := parseCycloneDX(out); err != nil {
			t.Fatalf("the merge of a valid BOM does not parse: %v", err)
		}
	})
}

func FuzzMergeSPDX(f *testing.F) {
	seed(f, SPDX.Ext)
	f.Fuzz(func(t *testing.T, data []byte) {
		src := Source{Buildpack: testGroup[0], Layer: "web", Format: SPDX, Path: "x"}
		if _, err := parseSPDX(data); err != nil {
			return
		}
		out, _, err := mergeSPDX([]Source{src, src}, [][]byte{data, data}, Options{Name: DefaultName})
		if err != nil {
			return
		}
		if _, err := parseSPDX(out); err != nil {
			t.Fatalf("the merge of a valid document does not parse: %v", err)
		}
	})
}

func FuzzParseSyft(f *testing.F) {
	seed(f, Syft.Ext)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseSyft(data)
	})
}
