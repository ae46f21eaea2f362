package sbom

import (
	"encoding/json"
	"fmt"
	"strings"
)

// checkSyft checks that each source is a Syft JSON document, and returns
// them unmerged (see doc.go for why Syft documents are not merged).
func checkSyft(srcs []Source, inputs [][]byte) ([][]byte, error) {
	for i, data := range inputs {
		if err := parseSyft(data); err != nil {
			return nil, &FormatError{Format: Syft, Source: srcs[i], Err: err}
		}
	}
	return inputs, nil
}

// parseSyft identifies a Syft JSON document by its schema (the way syft's
// own decoder does: schema.url names anchore/syft's JSON schema) and its
// artifacts list; it reads nothing else of it.
func parseSyft(data []byte) error {
	var d struct {
		Schema struct {
			Version string `json:"version"`
			URL     string `json:"url"`
		} `json:"schema"`
		Artifacts []json.RawMessage `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !strings.Contains(d.Schema.URL, "anchore/syft") || d.Schema.Version == "" {
		return fmt.Errorf("%w: schema.url %q is not Syft's JSON schema: not a Syft JSON document", ErrInvalid, d.Schema.URL)
	}
	return nil
}
