// Command lifecycletoml writes the lifecycle descriptor (lifecycle.toml) of
// this distribution. The API lists come from the pinned upstream lifecycle
// module, so they always match the phases we ship; the version is ours.
//
// Usage: go run ./hack/lifecycletoml -o out/lifecycle/lifecycle.toml
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/buildpacks/lifecycle/api"
	"github.com/buildpacks/lifecycle/buildpack"

	"github.com/cnb-artifacts/lifecycle/platform"
)

func main() {
	out := flag.String("o", "", "write the descriptor to this file instead of stdout")
	flag.BoolVar(&stock, "stock", false, "write upstream's version (the stock lifecycle directory of `make stock-lifecycle`)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycletoml:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if out == "" {
		return write(os.Stdout)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating descriptor: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing descriptor: %w", err)
	}
	return nil
}

var stock bool

func write(w io.Writer) error {
	version := platform.Version()
	if stock {
		version = platform.UpstreamVersion()
	}
	if strings.HasPrefix(version, "0.0.0") {
		return fmt.Errorf("version %q: no build information for the lifecycle module", version)
	}
	sbomFormats := []string{buildpack.MediaTypeCycloneDX, buildpack.MediaTypeSPDX, buildpack.MediaTypeSyft}
	_, err := fmt.Fprintf(w, `[apis]
[apis.buildpack]
  deprecated = %s
  supported = %s
[apis.platform]
  deprecated = %s
  supported = %s

# The minimum supported APIs, in the RFC-0011 format, for older platforms.
[api]
  platform = %q
  buildpack = %q

[lifecycle]
  version = %q
  sbom-formats = %s
`,
		api.Buildpack.Deprecated, api.Buildpack.Supported,
		api.Platform.Deprecated, api.Platform.Supported,
		oldest(api.Platform.Supported), oldest(api.Buildpack.Supported),
		version, quoteAll(sbomFormats),
	)
	if err != nil {
		return fmt.Errorf("writing descriptor: %w", err)
	}
	return nil
}

// oldest returns the lowest version of a list, as the RFC-0011 [api] table
// expects.
func oldest(l api.List) string {
	lowest := l[0]
	for _, v := range l[1:] {
		if v.Compare(lowest) < 0 {
			lowest = v
		}
	}
	return lowest.String()
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
