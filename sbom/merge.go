package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// Document is what Merge makes of one format's sources: the content of one
// artifact.
type Document struct {
	Format Format
	// Content is the merged document. It is nil for a format that is not
	// merged (Syft): Parts holds its sources' documents instead.
	Content []byte
	// Parts are the sources' documents, byte for byte, one per source in
	// Sources order, for a format that is not merged; nil otherwise.
	Parts [][]byte
	// Sources are the files that contributed, in the order of Find.
	Sources []Source
	// Annotations say which buildpacks and layers contributed (see
	// AnnotationSources and AnnotationBuildpacks).
	Annotations map[string]string
	// Omitted lists, one sentence each, what of the sources the document
	// does not carry (a CycloneDX signature, for example); empty when it
	// carries everything.
	Omitted []string
}

// Options describe the app image the merged documents describe.
type Options struct {
	// Name names the app image in the documents (CycloneDX
	// metadata.component, the SPDX document and its described package);
	// "" gives DefaultName. It should not hold a digest or a tag, so that a
	// rebase or a retag does not change the documents.
	Name string
}

// DefaultName is the app's name when Options.Name is empty.
const DefaultName = "app"

// Merge makes one Document per format present among sources, in Formats
// order. Each source is read once, through an os.Root at its Dir: a
// regular file of at most MaxFileSize bytes, MaxTotalSize over a format.
// A problem with a format (a file that cannot be read or parsed, a limit)
// is a *FormatError naming the buildpack, layer and file; that format has
// no Document, the others still do, and the error joins every format's.
// The output depends only on the sources (their identity, order and
// bytes) and opts: merging the same inputs again gives the same bytes.
func Merge(sources []Source, opts Options) ([]Document, error) {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if len(sources) > MaxSources {
		return nil, fmt.Errorf("%w: %d SBOM files, more than %d", ErrLimit, len(sources), MaxSources)
	}
	roots := map[string]*os.Root{}
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	var (
		docs []Document
		errs []error
	)
	for _, f := range Formats {
		var srcs []Source
		for _, s := range sources {
			if s.Format == f {
				srcs = append(srcs, s)
			}
		}
		if len(srcs) == 0 {
			continue
		}
		doc, err := mergeFormat(f, srcs, roots, opts, MaxTotalSize)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, doc)
	}
	return docs, errors.Join(errs...)
}

// mergeFormat merges one format's sources, reading at most maxTotal bytes.
func mergeFormat(f Format, srcs []Source, roots map[string]*os.Root, opts Options, maxTotal int64) (Document, error) {
	inputs := make([][]byte, len(srcs))
	var total int64
	for i, s := range srcs {
		data, err := readSource(s, roots)
		if err != nil {
			return Document{}, &FormatError{Format: f, Source: s, Err: err}
		}
		total += int64(len(data))
		if total > maxTotal {
			return Document{}, &FormatError{Format: f, Source: s, Err: fmt.Errorf("%w: the %s files read so far hold %d bytes, more than %d", ErrLimit, f.Name, total, maxTotal)}
		}
		inputs[i] = data
	}
	doc := Document{Format: f, Sources: srcs, Annotations: annotations(srcs)}
	digest := inputsDigest(srcs, inputs)
	doc.Annotations[AnnotationDigest] = "sha256:" + hex.EncodeToString(digest[:])
	var err error
	switch f {
	case CycloneDX:
		doc.Content, doc.Omitted, err = mergeCycloneDX(srcs, inputs, opts)
	case SPDX:
		doc.Content, doc.Omitted, err = mergeSPDX(srcs, inputs, opts)
	case Syft:
		doc.Parts, err = checkSyft(srcs, inputs)
		doc.Annotations[AnnotationMerged] = "false"
	default:
		err = &FormatError{Format: f, Err: fmt.Errorf("unknown format")}
	}
	if err != nil {
		return Document{}, err
	}
	return doc, nil
}

// readSource reads one source as artifacts.ReadFile does: opened once,
// without blocking, through an os.Root at its Dir (so it cannot leave Dir),
// checked on the descriptor to be a regular file within MaxFileSize.
func readSource(s Source, roots map[string]*os.Root) ([]byte, error) {
	root, ok := roots[s.Dir]
	if !ok {
		var err error
		if root, err = os.OpenRoot(s.Dir); err != nil {
			return nil, err
		}
		roots[s.Dir] = root
	}
	// Under the layers directory, a symbolic link is refused outright,
	// wherever it points: no lifecycle phase writes one there. The
	// launcher's directory is the platform's, and may be a mounted
	// ConfigMap, whose files are links: the os.Root keeps them inside it.
	if !s.fromLauncher() {
		if fi, err := root.Lstat(s.Path); err != nil {
			return nil, err
		} else if fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%w: a symbolic link", ErrNotRegular)
		}
	}
	data, err := artifacts.ReadFile(root, s.Path, MaxFileSize)
	switch {
	case errors.Is(err, artifacts.ErrNotRegular):
		return nil, fmt.Errorf("%w: %w", ErrNotRegular, err)
	case errors.Is(err, artifacts.ErrLimit):
		return nil, fmt.Errorf("%w: %w", ErrLimit, err)
	}
	return data, err
}

// Annotation keys of every Document.
const (
	// AnnotationSources lists the contributing sources, comma-separated,
	// each as Source.Ref gives it (<id>@<version>[:<layer>]), in Sources
	// order; past MaxAnnotationValue bytes, the list is cut at a source and
	// ends with ",+<n> more".
	AnnotationSources = "io.buildpacks.sbom.sources"
	// AnnotationBuildpacks lists the contributing buildpacks
	// (<id>@<version>), comma-separated, once each, in Sources order; cut
	// like AnnotationSources.
	AnnotationBuildpacks = "io.buildpacks.sbom.buildpacks"
	// AnnotationMerged is "true" when Content is one merged document,
	// "false" when Parts carries the sources unmerged.
	AnnotationMerged = "io.buildpacks.sbom.merged"
	// AnnotationDigest is the sha256 of the sources' identities and
	// bytes: equal for equal inputs, whatever the format's output.
	AnnotationDigest = "io.buildpacks.sbom.inputs.digest"
)

// MaxAnnotationValue bounds each annotation value, well under what
// registries accept for a whole manifest.
const MaxAnnotationValue = 4096

func annotations(srcs []Source) map[string]string {
	var refs, bps []string
	seen := map[string]bool{}
	for _, s := range srcs {
		refs = append(refs, escapeListItem(s.Ref()))
		if b := escapeListItem(s.Buildpack.String()); !seen[b] {
			seen[b] = true
			bps = append(bps, b)
		}
	}
	return map[string]string{
		AnnotationSources:    boundedList(refs, MaxAnnotationValue),
		AnnotationBuildpacks: boundedList(bps, MaxAnnotationValue),
		AnnotationMerged:     "true",
	}
}

// escapeListItem escapes the list separator (and the escape character) of
// one item of a comma-separated annotation.
func escapeListItem(s string) string {
	return strings.NewReplacer("%", "%25", ",", "%2C").Replace(s)
}

// boundedList joins items with commas in at most max bytes: when they do
// not fit, as many as fit are followed by ",+<n> more".
func boundedList(items []string, max int) string {
	if len(strings.Join(items, ",")) <= max {
		return strings.Join(items, ",")
	}
	for n := len(items) - 1; n >= 0; n-- {
		s := strings.Join(items[:n], ",")
		tail := fmt.Sprintf("+%d more", len(items)-n)
		if n > 0 {
			tail = "," + tail
		}
		if len(s)+len(tail) <= max {
			return s + tail
		}
	}
	return fmt.Sprintf("+%d more", len(items))
}

// inputsDigest hashes the sources' identities and bytes, in order: the seed
// of every identifier a merged document derives (serial number, namespace).
func inputsDigest(srcs []Source, inputs [][]byte) [sha256.Size]byte {
	h := sha256.New()
	for i, s := range srcs {
		fmt.Fprintf(h, "%q %q %q %d\n", s.Buildpack.String(), s.Layer, s.Format.Name, len(inputs[i]))
		h.Write(inputs[i])
	}
	var d [sha256.Size]byte
	copy(d[:], h.Sum(nil))
	return d
}
