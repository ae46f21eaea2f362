package sbom

import (
	"bytes"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// appRef is the bom-ref of the merged BOM's metadata.component, the app.
const appRef = "io.buildpacks.app"

// Properties of a layer component (CycloneDX) or package (SPDX comment):
// the source it stands for.
const (
	propBuildpackID      = "io.buildpacks.buildpack.id"
	propBuildpackVersion = "io.buildpacks.buildpack.version"
	propLayer            = "io.buildpacks.layer"
	propFile             = "io.buildpacks.sbom.file"
)

// mergeCycloneDX lists, for each source, one component that stands for it,
// then the source's metadata.component and components, at the top level
// (see doc.go).
func mergeCycloneDX(srcs []Source, inputs [][]byte, opts Options) ([]byte, []string, error) {
	boms := make([]*cdx.BOM, len(srcs))
	spec := cdx.SpecVersion1_5
	for i, data := range inputs {
		b, err := parseCycloneDX(data)
		if err != nil {
			return nil, nil, &FormatError{Format: CycloneDX, Source: srcs[i], Err: err}
		}
		boms[i] = b
		spec = max(spec, b.SpecVersion)
	}
	digest := inputsDigest(srcs, inputs)
	out := cdx.NewBOM()
	out.SerialNumber = "urn:uuid:" + uuidFrom(digest)
	out.Version = 1
	out.Metadata = &cdx.Metadata{
		Component: &cdx.Component{BOMRef: appRef, Type: cdx.ComponentTypeContainer, Name: opts.Name},
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Group: "io.buildpacks", Name: "lifecycle-artifacts sbom merge",
		}}},
	}
	refs := newRefSet(appRef)
	var (
		components []cdx.Component
		deps       []cdx.Dependency
		vulns      []cdx.Vulnerability
		comps      []cdx.Composition
		annots     []cdx.Annotation
		services   []cdx.Service
		omitted    []string
		layerRefs  []string
	)
	for i, b := range boms {
		s := srcs[i]
		layerRef := refs.unique("io.buildpacks.layer:" + s.Ref())
		layerRefs = append(layerRefs, layerRef)
		m := mapRefs(b, refs, layerRef)
		name := s.Layer
		if name == "" {
			name = "launch"
		}
		props := []cdx.Property{
			{Name: propBuildpackID, Value: s.Buildpack.ID},
			{Name: propBuildpackVersion, Value: s.Buildpack.Version},
			{Name: propLayer, Value: s.Layer},
			{Name: propFile, Value: s.Path},
		}
		layer := cdx.Component{BOMRef: layerRef, Type: cdx.ComponentTypeApplication, Group: s.Buildpack.ID, Name: name, Version: s.Buildpack.Version}
		var children []cdx.Component
		var top []string
		if b.Metadata != nil {
			if b.Metadata.Component != nil {
				c := *b.Metadata.Component
				rewriteComponent(&c, m)
				children = append(children, c)
				if c.BOMRef != "" {
					top = append(top, c.BOMRef)
				}
			}
			if b.Metadata.Properties != nil {
				props = append(props, *b.Metadata.Properties...)
			}
		}
		if b.Properties != nil {
			props = append(props, *b.Properties...)
		}
		if b.Components != nil {
			for _, c := range *b.Components {
				rewriteComponent(&c, m)
				children = append(children, c)
				if c.BOMRef != "" {
					top = appendUnique(top, c.BOMRef)
				}
			}
		}
		layer.Properties = &props
		if b.ExternalReferences != nil {
			layer.ExternalReferences = b.ExternalReferences
		}
		// Flat: the source's components stay at the top level, where
		// scanners read them (Trivy reads bom.components, not nested ones);
		// the layer's dependencies say which are its.
		components = append(components, layer)
		components = append(components, children...)
		if len(top) > 0 {
			deps = append(deps, cdx.Dependency{Ref: layerRef, Dependencies: &top})
		} else {
			deps = append(deps, cdx.Dependency{Ref: layerRef})
		}
		if b.Dependencies != nil {
			for _, d := range *b.Dependencies {
				d.Ref = m.get(d.Ref)
				d.Dependencies = mapStrings(d.Dependencies, m)
				deps = append(deps, d)
			}
		}
		if b.Services != nil {
			for _, sv := range *b.Services {
				rewriteService(&sv, m)
				services = append(services, sv)
			}
		}
		if b.Vulnerabilities != nil {
			for _, v := range *b.Vulnerabilities {
				v.BOMRef = m.get(v.BOMRef)
				if v.Affects != nil {
					affects := append([]cdx.Affects(nil), *v.Affects...)
					for j := range affects {
						affects[j].Ref = m.get(affects[j].Ref)
					}
					v.Affects = &affects
				}
				vulns = append(vulns, v)
			}
		}
		if b.Compositions != nil {
			for _, c := range *b.Compositions {
				c.BOMRef = m.get(c.BOMRef)
				c.Assemblies = mapBOMRefs(c.Assemblies, m)
				c.Dependencies = mapBOMRefs(c.Dependencies, m)
				c.Vulnerabilities = mapBOMRefs(c.Vulnerabilities, m)
				comps = append(comps, c)
			}
		}
		if b.Annotations != nil {
			for _, a := range *b.Annotations {
				a.BOMRef = m.get(a.BOMRef)
				a.Subjects = mapBOMRefs(a.Subjects, m)
				annots = append(annots, a)
			}
		}
		for _, o := range []struct {
			name    string
			present bool
		}{
			{"formulation", b.Formulation != nil},
			{"declarations", b.Declarations != nil},
			{"definitions", b.Definitions != nil},
			{"citations", b.Citations != nil},
			{"signature", b.Signature != nil},
		} {
			if o.present {
				omitted = append(omitted, fmt.Sprintf("%s: the BOM's %s is not merged", s, o.name))
			}
		}
	}
	out.Components = &components
	appDeps := layerRefs
	allDeps := append([]cdx.Dependency{{Ref: appRef, Dependencies: &appDeps}}, deps...)
	out.Dependencies = &allDeps
	if len(services) > 0 {
		out.Services = &services
	}
	if len(vulns) > 0 {
		out.Vulnerabilities = &vulns
	}
	if len(comps) > 0 {
		out.Compositions = &comps
	}
	if len(annots) > 0 {
		out.Annotations = &annots
	}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(out, spec); err != nil {
		return nil, nil, &FormatError{Format: CycloneDX, Err: err}
	}
	return buf.Bytes(), omitted, nil
}

// parseCycloneDX decodes a CycloneDX JSON BOM with the library, and checks
// that it is one: a JSON document of another format decodes to an empty
// BOM.
func parseCycloneDX(data []byte) (*cdx.BOM, error) {
	var b cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if b.BOMFormat != cdx.BOMFormat {
		return nil, fmt.Errorf("%w: bomFormat is %q, not %q: not a CycloneDX JSON BOM", ErrInvalid, b.BOMFormat, cdx.BOMFormat)
	}
	if b.SpecVersion < cdx.SpecVersion1_2 {
		return nil, fmt.Errorf("%w: specVersion %s: CycloneDX JSON starts at 1.2", ErrInvalid, b.SpecVersion)
	}
	return &b, nil
}

// refSet is the set of bom-refs (or SPDX identifiers) taken in the merged
// document.
type refSet map[string]bool

func newRefSet(taken ...string) refSet {
	s := refSet{}
	for _, r := range taken {
		s[r] = true
	}
	return s
}

// unique takes ref, or, when it is taken, the first free ref+"-"+n (n ≥
// 2), and returns what it took.
func (s refSet) unique(ref string) string {
	r := ref
	for n := 2; s[r]; n++ {
		r = fmt.Sprintf("%s-%d", ref, n)
	}
	s[r] = true
	return r
}

// refMap maps one source's identifiers to the merged document's.
type refMap map[string]string

func (m refMap) get(ref string) string {
	if r, ok := m[ref]; ok {
		return r
	}
	return ref
}

// mapRefs gives every bom-ref of b, in document order, a ref unique in the
// merged BOM: itself when it is free; when another source took it,
// <layerRef>/<ref> (a suffix could read as a version: pkg:npm/debug@2.6.9-2),
// suffixed if that is taken too.
func mapRefs(b *cdx.BOM, refs refSet, layerRef string) refMap {
	m := refMap{}
	add := func(ref string) {
		if _, ok := m[ref]; ref != "" && !ok {
			if refs[ref] {
				m[ref] = refs.unique(layerRef + "/" + ref)
			} else {
				m[ref] = refs.unique(ref)
			}
		}
	}
	var walk func(cs *[]cdx.Component)
	walkOne := func(c *cdx.Component) {
		add(c.BOMRef)
		walk(c.Components)
		if c.Pedigree != nil {
			walk(c.Pedigree.Ancestors)
			walk(c.Pedigree.Descendants)
			walk(c.Pedigree.Variants)
		}
	}
	walk = func(cs *[]cdx.Component) {
		if cs == nil {
			return
		}
		for i := range *cs {
			walkOne(&(*cs)[i])
		}
	}
	var walkServices func(ss *[]cdx.Service)
	walkServices = func(ss *[]cdx.Service) {
		if ss == nil {
			return
		}
		for _, s := range *ss {
			add(s.BOMRef)
			walkServices(s.Services)
		}
	}
	if b.Metadata != nil && b.Metadata.Component != nil {
		walkOne(b.Metadata.Component)
	}
	walk(b.Components)
	walkServices(b.Services)
	if b.Dependencies != nil {
		for _, d := range *b.Dependencies {
			add(d.Ref)
			if d.Dependencies != nil {
				for _, r := range *d.Dependencies {
					add(r)
				}
			}
		}
	}
	if b.Vulnerabilities != nil {
		for _, v := range *b.Vulnerabilities {
			add(v.BOMRef)
		}
	}
	if b.Compositions != nil {
		for _, c := range *b.Compositions {
			add(c.BOMRef)
		}
	}
	if b.Annotations != nil {
		for _, a := range *b.Annotations {
			add(a.BOMRef)
		}
	}
	return m
}

// rewriteComponent gives c and the components it holds their merged refs.
// It copies what it changes, so that the decoded BOM is not shared.
func rewriteComponent(c *cdx.Component, m refMap) {
	c.BOMRef = m.get(c.BOMRef)
	c.Components = rewriteComponents(c.Components, m)
	if c.Pedigree != nil {
		p := *c.Pedigree
		p.Ancestors = rewriteComponents(p.Ancestors, m)
		p.Descendants = rewriteComponents(p.Descendants, m)
		p.Variants = rewriteComponents(p.Variants, m)
		c.Pedigree = &p
	}
}

func rewriteComponents(cs *[]cdx.Component, m refMap) *[]cdx.Component {
	if cs == nil {
		return nil
	}
	out := append([]cdx.Component(nil), *cs...)
	for i := range out {
		rewriteComponent(&out[i], m)
	}
	return &out
}

func rewriteService(s *cdx.Service, m refMap) {
	s.BOMRef = m.get(s.BOMRef)
	if s.Services != nil {
		out := append([]cdx.Service(nil), *s.Services...)
		for i := range out {
			rewriteService(&out[i], m)
		}
		s.Services = &out
	}
}

func mapStrings(refs *[]string, m refMap) *[]string {
	if refs == nil {
		return nil
	}
	out := make([]string, len(*refs))
	for i, r := range *refs {
		out[i] = m.get(r)
	}
	return &out
}

func mapBOMRefs(refs *[]cdx.BOMReference, m refMap) *[]cdx.BOMReference {
	if refs == nil {
		return nil
	}
	out := make([]cdx.BOMReference, len(*refs))
	for i, r := range *refs {
		out[i] = cdx.BOMReference(m.get(string(r)))
	}
	return &out
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// uuidFrom makes a UUID (version 8, RFC 9562: its bits are the
// application's) of the first 16 bytes of a digest.
func uuidFrom(d [32]byte) string {
	b := d[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
