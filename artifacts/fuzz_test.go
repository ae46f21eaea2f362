package artifacts

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse fuzzes the parsing and validation of one artifacts.toml,
// including the file checks through os.Root in a layer directory that holds
// a few files. It must never panic, and what it accepts must build.
func FuzzParse(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add([]byte(tc.toml))
	}
	f.Add([]byte("[[artifact]]\ntag='t'\ntype='a/b'\nfile='f'\n[[artifact.files]]\npath='link'\ntitle='x/y'\n[artifact.annotations]\nk='v'\n"))
	f.Add([]byte("artifact = [{tag='a', type='a/b', file='f', labels=[{ConfigMediaType='a/b'}]}]\n"))
	f.Add([]byte("[[artifact]\ntag = 'a'\n")) // malformed
	f.Add([]byte("[[artifact]]\ntag='t'\ntype='a/b'\nfile='missing'\n"))
	f.Add([]byte("[[artifact]]\ntag='sha256-44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'\nfile='../f'\n"))

	layerDir := filepath.Join(f.TempDir(), "layer")
	writeTree(f, filepath.Dir(layerDir), map[string]string{
		"outside":                  "o",
		"layer/f":                  "f",
		"layer/dir/g":              "g",
		"layer/link":               "symlink:f",
		"layer/escape":             "symlink:../outside",
		"layer/mywasmprogram.wasm": wasmModule,
	})
	root, err := os.OpenRoot(layerDir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	loc := location{Buildpack: wasmBP, Layer: "layer", LayerDir: layerDir, Source: "examples_wasm/layer/artifacts.toml"}

	f.Fuzz(func(t *testing.T, data []byte) {
		decls, errs := parse(data, loc)
		for _, d := range decls {
			for _, e := range checkFiles(root, d) { // wrapped as Load does
				if e.Error() == "" {
					t.Errorf("file check error without a message: %#v", e)
				}
				errs = append(errs, loc.errorf(d.Index, d.Tag, e))
			}
		}
		for _, err := range errs {
			// Every error is a declaration error with a message.
			if !errors.Is(err, ErrInvalid) || err.Error() == "" {
				t.Errorf("bad error %#v", err)
			}
		}
		if len(errs) > 0 {
			return
		}
		for _, d := range decls {
			if d.ArtifactType == "" || len(d.Files) == 0 || d.Tag == "" {
				t.Fatalf("accepted an incomplete declaration: %+v", d)
			}
			if _, err := Build(d); err != nil {
				t.Fatalf("accepted declaration does not build: %v", err)
			}
		}
	})
}
