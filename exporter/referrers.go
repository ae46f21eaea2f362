package exporter

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// mergeReferrers returns the fallback index with add listed: entries already
// there (another tool's signature, an earlier export's artifacts) are kept in
// their order, an entry with the same digest as a new one is replaced, and
// the new ones follow in the order given. existing may be nil.
func mergeReferrers(existing *v1.IndexManifest, add []v1.Descriptor) ([]byte, error) {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	if existing != nil {
		idx.Annotations = existing.Annotations
	}
	adding := map[v1.Hash]bool{}
	for _, d := range add {
		adding[d.Digest] = true
	}
	if existing != nil {
		for _, d := range existing.Manifests {
			if !adding[d.Digest] {
				idx.Manifests = append(idx.Manifests, d)
			}
		}
	}
	idx.Manifests = append(idx.Manifests, add...)
	b, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("encode referrers index: %w", err)
	}
	return b, nil
}
