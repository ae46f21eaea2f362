package artifacts

import (
	"iter"
	"maps"
	"slices"
)

func sortedKeys(m map[string]string) iter.Seq[string] {
	return slices.Values(slices.Sorted(maps.Keys(m)))
}
