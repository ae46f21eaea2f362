package sbom_test

import (
	"errors"
	"fmt"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/sbom"
)

// How the exporter uses the package: find, merge, and apply the policy per
// format.
func Example() {
	group := []artifacts.Buildpack{{ID: "example/a", Version: "1.0.0"}, {ID: "example/b", Version: "2.0.0"}}
	srcs, err := sbom.Find("testdata/layers", group, sbom.Launcher{Dir: "testdata/launcher", Version: "0.21.17"})
	if err != nil {
		fmt.Println("find:", err) // a directory problem: every format
	}
	docs, err := sbom.Merge(srcs, sbom.Options{Name: "registry.example/app"})
	var fe *sbom.FormatError
	if errors.As(err, &fe) {
		fmt.Println("format failed:", fe.Format.Name)
	}
	for _, d := range docs {
		fmt.Println(d.Format.MediaType, len(d.Sources), "sources, merged:", d.Annotations[sbom.AnnotationMerged], "layers:", max(1, len(d.Parts)))
		fmt.Println("  ", d.Annotations[sbom.AnnotationSources])
	}
	// Output:
	// application/vnd.cyclonedx+json 4 sources, merged: true layers: 1
	//    example/a@1.0.0,example/a@1.0.0:web,example/b@2.0.0:deps,buildpacksio/lifecycle@0.21.17:launcher
	// application/spdx+json 3 sources, merged: true layers: 1
	//    example/a@1.0.0:web,example/b@2.0.0:deps,buildpacksio/lifecycle@0.21.17:launcher
	// application/vnd.syft+json 2 sources, merged: false layers: 2
	//    example/a@1.0.0:web,buildpacksio/lifecycle@0.21.17:launcher
}
