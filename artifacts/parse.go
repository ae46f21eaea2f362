package artifacts

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// rawFile mirrors artifacts.toml.
type rawFile struct {
	Artifacts []rawArtifact `toml:"artifact"`
}

type rawArtifact struct {
	Tag         string            `toml:"tag"`
	Type        string            `toml:"type"`
	File        string            `toml:"file"`
	Config      string            `toml:"config"`
	Labels      toml.Primitive    `toml:"labels"`
	Files       []rawFileEntry    `toml:"files"`
	Annotations map[string]string `toml:"annotations"`
}

// rawLabels are the RFC's labels: the two media types, and any other key,
// which becomes a manifest annotation (the RFC's "labelling mechanism").
type rawLabels struct {
	ConfigMediaType       string
	ContentLayerMediaType string
	// Other holds every other label, by key.
	Other map[string]string
}

type rawFileEntry struct {
	Path      string `toml:"path"`
	MediaType string `toml:"media-type"`
	Title     string `toml:"title"`
}

// DefaultMediaType is the media type of a file that declares none and whose
// artifact has no labels.ContentLayerMediaType.
const DefaultMediaType = "application/octet-stream"

// parse decodes one artifacts.toml and performs every check that needs
// neither the file system nor the other files: syntax, unknown keys,
// required fields, tags, media types, annotations, path and title syntax,
// duplicate titles. It returns every declaration, valid or not (so that
// duplicate tags can be found across all of them), and the errors.
func parse(data []byte, loc location) ([]Declaration, []error) {
	var raw rawFile
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "toml: ")
		return nil, []error{loc.errorf(-1, "", fmt.Errorf("%w: %s", ErrSyntax, msg))}
	}

	if len(raw.Artifacts) > MaxArtifacts {
		return nil, []error{loc.errorf(-1, "", fmt.Errorf("%w: %d artifacts declared, more than %d per export", ErrLimit, len(raw.Artifacts), MaxArtifacts))}
	}
	var errs []error
	labels := make([]rawLabels, len(raw.Artifacts))
	labelErrs := make([][]error, len(raw.Artifacts))
	for i := range raw.Artifacts {
		labels[i], labelErrs[i] = decodeLabels(md, raw.Artifacts[i].Labels, raw.Artifacts[i].Annotations)
	}
	unknown := unknownKeys(md, len(raw.Artifacts))

	if len(raw.Artifacts) == 0 && len(unknown[-1]) == 0 {
		errs = append(errs, loc.errorf(-1, "", fmt.Errorf("%w: no [[artifact]] declared", ErrMissingField)))
	}
	for _, k := range unknown[-1] {
		errs = append(errs, loc.errorf(-1, "", unknownKeyError(k)))
	}

	var decls []Declaration
	for i, ra := range raw.Artifacts {
		var aerrs []error
		for _, k := range unknown[i] {
			aerrs = append(aerrs, unknownKeyError(k))
		}
		aerrs = append(aerrs, labelErrs[i]...)
		d := declaration(ra, labels[i], loc, i)
		aerrs = append(aerrs, validate(d)...)
		for _, e := range aerrs {
			errs = append(errs, loc.errorf(i, ra.Tag, e))
		}
		decls = append(decls, d)
	}
	return decls, errs
}

// declaration applies the defaults to a raw artifact.
func declaration(ra rawArtifact, l rawLabels, loc location, index int) Declaration {
	d := Declaration{
		Buildpack:       loc.Buildpack,
		Layer:           loc.Layer,
		LayerDir:        loc.LayerDir,
		Source:          loc.Source,
		Index:           index,
		Tag:             ra.Tag,
		ArtifactType:    ra.Type,
		ConfigMediaType: l.ConfigMediaType,
		Annotations:     ra.Annotations,
	}
	if len(l.Other) > 0 {
		d.Annotations = make(map[string]string, len(ra.Annotations)+len(l.Other))
		maps.Copy(d.Annotations, l.Other)
		maps.Copy(d.Annotations, ra.Annotations)
	}
	if d.ArtifactType == "" {
		d.ArtifactType = d.ConfigMediaType
	}
	if ra.Config != "" {
		d.Config = &File{Path: cleanPath(ra.Config), MediaType: l.ConfigMediaType}
	}
	layerType := l.ContentLayerMediaType
	if layerType == "" {
		layerType = DefaultMediaType
	}
	entries := ra.Files
	if ra.File != "" {
		entries = append([]rawFileEntry{{Path: ra.File}}, entries...)
	}
	for _, e := range entries {
		f := File{Path: cleanPath(e.Path), MediaType: e.MediaType, Title: e.Title}
		if f.MediaType == "" {
			f.MediaType = layerType
		}
		if f.Title == "" && f.Path != "" {
			f.Title = path.Base(f.Path)
		}
		d.Files = append(d.Files, f)
	}
	return d
}

// cleanPath cleans a slash-separated path but keeps "" recognisable for
// validation.
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}

// decodeLabels accepts labels as a table or, as in the RFC, an array holding
// exactly one table. ConfigMediaType and ContentLayerMediaType are the media
// types; every other key is a label that becomes a manifest annotation
// (docs/spec.md 2.2), except a key misspelt for one of the two or for
// another key of artifacts.toml (misspeltLabel). annotations are the
// artifact's [artifact.annotations]: a label may not set one of them too.
func decodeLabels(md toml.MetaData, prim toml.Primitive, annotations map[string]string) (rawLabels, []error) {
	var table map[string]any
	var list []map[string]any
	if err := md.PrimitiveDecode(prim, &list); err == nil {
		switch len(list) {
		case 0:
			return rawLabels{}, nil
		case 1:
			table = list[0]
		default:
			return rawLabels{}, []error{fmt.Errorf("%w: %d [[artifact.labels]] tables, want at most one", ErrInvalidLabels, len(list))}
		}
	} else if err := md.PrimitiveDecode(prim, &table); err != nil {
		return rawLabels{}, []error{fmt.Errorf("%w: want a table ([artifact.labels]): %s", ErrInvalidLabels, strings.TrimPrefix(err.Error(), "toml: "))}
	}
	var l rawLabels
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(table)) {
		s, ok := table[k].(string)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: labels.%s: want a string, got %T", ErrInvalidLabels, k, table[k]))
			continue
		}
		switch {
		case k == "ConfigMediaType":
			l.ConfigMediaType = s
		case k == "ContentLayerMediaType":
			l.ContentLayerMediaType = s
		case misspeltLabel(k):
			errs = append(errs, unknownKeyError("artifact.labels."+k))
		default:
			if _, dup := annotations[k]; dup {
				errs = append(errs, fmt.Errorf("%w: %q is both a label and an annotation; keep one", ErrInvalidLabels, k))
				continue
			}
			if l.Other == nil {
				l.Other = map[string]string{}
			}
			l.Other[k] = s
		}
	}
	return l, errs
}

// unknownKeys returns the undecoded keys by artifact index; -1 holds the keys
// that cannot be attributed to one artifact. Only the outermost unknown key
// of a table is reported.
func unknownKeys(md toml.MetaData, n int) map[int][]string {
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	out := map[int][]string{}
	if len(undecoded) == 0 {
		return out
	}
	keys := md.Keys()
	// Every [[artifact]] header shows up as the key "artifact"; an inline
	// array of tables shows up once, so attribution is only possible when
	// the counts agree.
	headers := 0
	for _, k := range keys {
		if len(k) == 1 && k[0] == "artifact" {
			headers++
		}
	}
	attribute := headers == n
	idx := -1
	seen := map[string]bool{}
	for _, k := range keys {
		if attribute && len(k) == 1 && k[0] == "artifact" {
			idx++
		}
		s := k.String()
		if !undecoded[s] || (len(k) > 1 && undecoded[k[:len(k)-1].String()]) {
			continue
		}
		at := -1
		if attribute && k[0] == "artifact" {
			at = idx
		}
		if at == -1 && seen[s] {
			continue
		}
		seen[s] = true
		out[at] = append(out[at], s)
	}
	return out
}

func unknownKeyError(key string) error {
	msg := fmt.Errorf("%w %q", ErrUnknownKey, key)
	if s := suggestKey(key); s != "" {
		return fmt.Errorf("%w; did you mean %s?", msg, s)
	}
	return msg
}
