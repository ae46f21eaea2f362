package sbom

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
)

// SPDX identifiers of the merged document (without the SPDXRef- prefix).
const (
	spdxDocumentID = "DOCUMENT"
	spdxAppID      = "io.buildpacks.app"
)

// DefaultCreated is the SPDX created time of a merged document whose
// sources give none: lifecycle's normalized time of the image's files.
var DefaultCreated = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

var (
	licenseRefRE = regexp.MustCompile(`(DocumentRef-[A-Za-z0-9.\-]+:)?LicenseRef-[A-Za-z0-9.\-]+`)
	spdxIDChars  = regexp.MustCompile(`[^A-Za-z0-9.\-]+`)
)

// mergeSPDX makes one SPDX 2.3 document: the app package, which the
// document describes, contains one package per source, which contains
// what the source's document described (see doc.go).
func mergeSPDX(srcs []Source, inputs [][]byte, opts Options) ([]byte, []string, error) {
	docs := make([]*spdx.Document, len(srcs))
	for i, data := range inputs {
		d, err := parseSPDX(data)
		if err != nil {
			return nil, nil, &FormatError{Format: SPDX, Source: srcs[i], Err: err}
		}
		docs[i] = d
	}
	digest := inputsDigest(srcs, inputs)
	created := DefaultCreated
	creators := []common.Creator{{CreatorType: "Tool", Creator: "lifecycle-artifacts-sbom-merge"}}
	seenCreator := map[common.Creator]bool{creators[0]: true}
	for _, d := range docs {
		if d.CreationInfo == nil {
			continue
		}
		if t, err := time.Parse(time.RFC3339, d.CreationInfo.Created); err == nil && t.After(created) {
			created = t.UTC()
		}
		for _, c := range d.CreationInfo.Creators {
			if !seenCreator[c] {
				seenCreator[c] = true
				creators = append(creators, c)
			}
		}
	}
	out := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    spdxDocumentID,
		DocumentName:      opts.Name,
		DocumentNamespace: "urn:uuid:" + uuidFrom(digest),
		CreationInfo:      &spdx.CreationInfo{Creators: creators, Created: created.Format(time.RFC3339)},
	}
	app := &spdx.Package{
		PackageName:             opts.Name,
		PackageSPDXIdentifier:   spdxAppID,
		PackageDownloadLocation: "NOASSERTION",
		PrimaryPackagePurpose:   "CONTAINER",
	}
	out.Packages = []*spdx.Package{app}
	out.Relationships = []*spdx.Relationship{{
		RefA: common.MakeDocElementID("", spdxDocumentID), RefB: common.MakeDocElementID("", spdxAppID), Relationship: common.TypeRelationshipDescribe,
	}}
	ids := newRefSet(spdxDocumentID, spdxAppID)
	docRefs := refSet{}
	licenses := map[string]*spdx.OtherLicense{}
	for i, d := range docs {
		s := srcs[i]
		layerID := common.ElementID(ids.unique("io.buildpacks.layer-" + strings.Trim(spdxIDChars.ReplaceAllString(s.Ref(), "-"), "-")))
		name := s.Layer
		if name == "" {
			name = "launch"
		}
		layer := &spdx.Package{
			PackageName:             s.Buildpack.ID + "/" + name,
			PackageSPDXIdentifier:   layerID,
			PackageVersion:          s.Buildpack.Version,
			PackageDownloadLocation: "NOASSERTION",
			PackageComment: fmt.Sprintf("%s=%s %s=%s %s=%s %s=%s", propBuildpackID, s.Buildpack.ID, propBuildpackVersion, s.Buildpack.Version,
				propLayer, s.Layer, propFile, s.Path),
			Annotations: annotationsOf(d.Annotations),
		}
		out.Packages = append(out.Packages, layer)
		out.Relationships = append(out.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", spdxAppID), RefB: common.MakeDocElementID("", string(layerID)), Relationship: common.TypeRelationshipContains,
		})

		// Identifiers: elements, external documents, licenses.
		m := refMap{spdxDocumentID: spdxDocumentID}
		add := func(id common.ElementID) {
			if _, ok := m[string(id)]; id != "" && !ok {
				m[string(id)] = ids.unique(string(id))
			}
		}
		for _, p := range d.Packages {
			add(p.PackageSPDXIdentifier)
			for _, f := range p.Files {
				add(f.FileSPDXIdentifier)
			}
		}
		for _, f := range d.Files {
			add(f.FileSPDXIdentifier)
		}
		for _, sn := range d.Snippets {
			add(sn.SnippetSPDXIdentifier)
		}
		dm := refMap{}
		for _, r := range d.ExternalDocumentReferences {
			id := docRefs.unique(string(r.DocumentRefID))
			dm[string(r.DocumentRefID)] = id
			r.DocumentRefID = common.DocumentID(id)
			out.ExternalDocumentReferences = append(out.ExternalDocumentReferences, r)
		}
		lm := refMap{}
		for _, l := range d.OtherLicenses {
			id := l.LicenseIdentifier
			for n := 2; ; n++ {
				have, ok := licenses[id]
				if !ok {
					c := *l
					c.LicenseIdentifier = id
					licenses[id] = &c
					out.OtherLicenses = append(out.OtherLicenses, &c)
					break
				}
				if have.ExtractedText == l.ExtractedText && have.LicenseName == l.LicenseName {
					break // the same license: one entry
				}
				id = fmt.Sprintf("%s-%d", l.LicenseIdentifier, n)
			}
			lm[l.LicenseIdentifier] = id
		}
		lic := func(expr string) string { return mapLicenses(expr, lm, dm) }
		lics := func(exprs []string) []string {
			out := make([]string, len(exprs))
			for i, e := range exprs {
				out[i] = lic(e)
			}
			return out
		}
		file := func(f *spdx.File) *spdx.File {
			c := *f
			c.FileSPDXIdentifier = common.ElementID(m.get(string(f.FileSPDXIdentifier)))
			c.LicenseConcluded = lic(f.LicenseConcluded)
			c.LicenseInfoInFiles = lics(f.LicenseInfoInFiles)
			c.Snippets = nil
			return &c
		}

		for _, p := range d.Packages {
			c := *p
			c.PackageSPDXIdentifier = common.ElementID(m.get(string(p.PackageSPDXIdentifier)))
			c.PackageLicenseConcluded = lic(p.PackageLicenseConcluded)
			c.PackageLicenseDeclared = lic(p.PackageLicenseDeclared)
			c.PackageLicenseInfoFromFiles = lics(p.PackageLicenseInfoFromFiles)
			c.Files = nil
			for _, f := range p.Files {
				c.Files = append(c.Files, file(f))
			}
			out.Packages = append(out.Packages, &c)
		}
		for _, f := range d.Files {
			out.Files = append(out.Files, file(f))
		}
		for _, sn := range d.Snippets {
			sn.SnippetSPDXIdentifier = common.ElementID(m.get(string(sn.SnippetSPDXIdentifier)))
			sn.SnippetFromFileSPDXIdentifier = common.ElementID(m.get(string(sn.SnippetFromFileSPDXIdentifier)))
			sn.SnippetLicenseConcluded = lic(sn.SnippetLicenseConcluded)
			sn.LicenseInfoInSnippet = lics(sn.LicenseInfoInSnippet)
			out.Snippets = append(out.Snippets, sn)
		}

		elem := func(e common.DocElementID) common.DocElementID {
			switch {
			case e.SpecialID != "":
				return e
			case e.DocumentRefID != "":
				e.DocumentRefID = common.DocumentID(dm.get(string(e.DocumentRefID)))
				return e
			}
			e.ElementRefID = common.ElementID(m.get(string(e.ElementRefID)))
			return e
		}
		described := 0
		for _, r := range d.Relationships {
			isDoc := func(e common.DocElementID) bool {
				return e.DocumentRefID == "" && e.SpecialID == "" && e.ElementRefID == spdxDocumentID
			}
			c := *r
			c.RefA, c.RefB = elem(r.RefA), elem(r.RefB)
			switch {
			case isDoc(r.RefA) && strings.EqualFold(r.Relationship, common.TypeRelationshipDescribe):
				// What the source described, the layer contains.
				c.RefA, c.Relationship = common.MakeDocElementID("", string(layerID)), common.TypeRelationshipContains
				described++
			case isDoc(r.RefB) && strings.EqualFold(r.Relationship, common.TypeRelationshipDescribeBy):
				c.RefA, c.RefB, c.Relationship = common.MakeDocElementID("", string(layerID)), c.RefA, common.TypeRelationshipContains
				described++
			}
			out.Relationships = append(out.Relationships, &c)
		}
		if described == 0 {
			// A source that describes nothing: the layer contains its
			// packages and unpackaged files.
			for _, p := range d.Packages {
				out.Relationships = append(out.Relationships, &spdx.Relationship{
					RefA: common.MakeDocElementID("", string(layerID)), RefB: common.MakeDocElementID("", m.get(string(p.PackageSPDXIdentifier))), Relationship: common.TypeRelationshipContains,
				})
			}
		}
	}
	var buf bytes.Buffer
	if err := spdxjson.Write(out, &buf, spdxjson.Indent("  ")); err != nil {
		return nil, nil, &FormatError{Format: SPDX, Err: err}
	}
	return buf.Bytes(), nil, nil
}

// parseSPDX reads an SPDX JSON document (2.1, 2.2 or 2.3) with the library,
// as SPDX 2.3.
func parseSPDX(data []byte) (*spdx.Document, error) {
	d, err := spdxjson.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// JSON nulls in the lists decode to nil elements: drop them.
	d.Packages = nonNil(d.Packages)
	for _, p := range d.Packages {
		p.Files = nonNil(p.Files)
	}
	d.Files = nonNil(d.Files)
	d.OtherLicenses = nonNil(d.OtherLicenses)
	d.Relationships = nonNil(d.Relationships)
	d.Annotations = nonNil(d.Annotations)
	return d, nil
}

func nonNil[T any](s []*T) []*T {
	return slices.DeleteFunc(s, func(e *T) bool { return e == nil })
}

// mapLicenses rewrites the LicenseRef and DocumentRef identifiers of a
// license expression that the merge renamed.
func mapLicenses(expr string, lm, dm refMap) string {
	if len(lm) == 0 && len(dm) == 0 || !strings.Contains(expr, "Ref-") {
		return expr
	}
	return licenseRefRE.ReplaceAllStringFunc(expr, func(t string) string {
		if doc, ref, ok := strings.Cut(t, ":"); ok {
			return dm.get(doc) + ":" + ref
		}
		return lm.get(t)
	})
}

func annotationsOf(as []*spdx.Annotation) []spdx.Annotation {
	var out []spdx.Annotation
	for _, a := range as {
		out = append(out, *a)
	}
	return out
}
