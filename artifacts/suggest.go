package artifacts

import (
	"strconv"
	"strings"
)

// knownKeys are the keys of artifacts.toml, by the table that holds them.
var knownKeys = map[string][]string{
	"":                {"artifact"},
	"artifact":        {"tag", "type", "file", "config", "labels", "files", "annotations"},
	"artifact.labels": {"ConfigMediaType", "ContentLayerMediaType"},
	"artifact.files":  {"path", "media-type", "title"},
}

// maxSuggestDistance is the largest edit distance of a "did you mean".
const maxSuggestDistance = 2

// tableNames are the TOML headers of the tables of knownKeys.
var tableNames = map[string]string{
	"":                "the top level",
	"artifact":        "[[artifact]]",
	"artifact.labels": "[artifact.labels]",
	"artifact.files":  "[[artifact.files]]",
}

// suggestKey returns a "did you mean" for an unknown dotted key: the known
// key of the same table closest to it (ignoring case) within
// maxSuggestDistance edits, else the closest of another table, named with
// its table. "artifact.files.media_type" gives `"media-type"`,
// "artifact.media_type" gives `"media-type" in [[artifact.files]]`.
func suggestKey(key string) string {
	table, last := "", key
	if i := strings.LastIndex(key, "."); i >= 0 {
		table, last = key[:i], key[i+1:]
	}
	if k := closest(last, knownKeys[table]); k != "" {
		return strconv.Quote(k)
	}
	for _, other := range []string{"artifact", "artifact.files", "artifact.labels"} {
		if other == table {
			continue
		}
		if k := closest(last, knownKeys[other]); k != "" {
			return strconv.Quote(k) + " in " + tableNames[other]
		}
	}
	return ""
}

// misspeltLabel reports whether a label key (a free-form annotation key
// otherwise) is taken for a misspelling: within maxSuggestDistance edits of
// ConfigMediaType or ContentLayerMediaType, or within one edit of a key of
// [[artifact]] or [[artifact.files]] ("media_type"). The key is compared
// whole: dotted annotation keys are not split.
func misspeltLabel(key string) bool {
	if closest(key, knownKeys["artifact.labels"]) != "" {
		return true
	}
	for _, table := range []string{"artifact", "artifact.files"} {
		for _, k := range knownKeys[table] {
			if editDistance(strings.ToLower(key), strings.ToLower(k)) <= 1 {
				return true
			}
		}
	}
	return false
}

// closest returns the candidate nearest to s within maxSuggestDistance, or "".
func closest(s string, candidates []string) string {
	best, bestDist := "", maxSuggestDistance+1
	for _, k := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
