// Command sbom writes the SBOMs of built Go binaries the way upstream
// lifecycle's release ships them (its Makefile runs the syft CLI over each
// binary): <binary>.sbom.cdx.json, <binary>.sbom.spdx.json and
// <binary>.sbom.syft.json next to the binary.
//
// It uses syft (github.com/anchore/syft, the version in this module's
// go.mod) as a library: a file source over the binary, only the Go module
// binary cataloger (which reads the build information the Go toolchain
// embeds), and syft's own encoders for CycloneDX JSON, SPDX JSON and Syft
// JSON. This is its own module so that syft's dependencies never reach the
// lifecycle binaries.
//
// The output is reproducible: the same binaries give the same bytes. Syft
// stamps each document with the current time and a random UUID (the
// CycloneDX serialNumber, the SPDX documentNamespace); those are replaced
// with a fixed time (SOURCE_DATE_EPOCH, or 1980-01-01T00:00:01Z, the
// release tarball's entry time) and a UUID derived from the document's
// content. The source is named by the binary's file name, not its path, so
// where it was built does not show.
//
// Usage:
//
//	sbom [-dir DIR] binary...
//
// writes DIR/<name>.sbom.{cdx,spdx,syft}.json for each binary (DIR defaults
// to the binary's directory) and prints each file's sha256.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/cataloging"
	"github.com/anchore/syft/syft/cataloging/pkgcataloging"
	"github.com/anchore/syft/syft/format/cyclonedxjson"
	"github.com/anchore/syft/syft/format/spdxjson"
	"github.com/anchore/syft/syft/format/syftjson"
	"github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source/filesource"
	"github.com/google/uuid"
)

// goBinaryCataloger is the only cataloger run: the one the syft CLI picks
// for Go binaries.
const goBinaryCataloger = "go-module-binary-cataloger"

// defaultCreated is lifecycle's archive.NormalizedModTime, the time of every
// entry of the release tarball and of the lifecycle image.
var defaultCreated = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

// format is one output: its file suffix (upstream's names) and encoder.
type format struct {
	suffix  string
	encoder func() (sbom.FormatEncoder, error)
	// fix pins the fields syft fills with the time or a random UUID.
	fix func(doc []byte, created time.Time) ([]byte, error)
}

var formats = []format{
	{"sbom.cdx.json", func() (sbom.FormatEncoder, error) {
		return cyclonedxjson.NewFormatEncoderWithConfig(cyclonedxjson.DefaultEncoderConfig())
	}, fixCycloneDX},
	{"sbom.spdx.json", func() (sbom.FormatEncoder, error) {
		return spdxjson.NewFormatEncoderWithConfig(spdxjson.DefaultEncoderConfig())
	}, fixSPDX},
	{"sbom.syft.json", func() (sbom.FormatEncoder, error) {
		return syftjson.NewFormatEncoderWithConfig(syftjson.DefaultEncoderConfig())
	}, func(doc []byte, _ time.Time) ([]byte, error) { return doc, nil }},
}

func main() {
	dir := flag.String("dir", "", "directory for the SBOM files (default: each binary's directory)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: sbom [-dir DIR] binary...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	created, err := createdTime()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(2)
	}
	for _, bin := range flag.Args() {
		outDir := *dir
		if outDir == "" {
			outDir = filepath.Dir(bin)
		}
		if err := writeSBOMs(context.Background(), bin, outDir, created); err != nil {
			fmt.Fprintf(os.Stderr, "sbom: %s: %v\n", bin, err)
			os.Exit(1)
		}
	}
}

// createdTime is SOURCE_DATE_EPOCH when set, else defaultCreated.
func createdTime() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return defaultCreated, nil
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", v, err)
	}
	return time.Unix(s, 0).UTC(), nil
}

// catalog runs syft's Go binary cataloger over the file bin. The file
// source is opened from the binary's directory with the bare file name, so
// the documents name "lifecycle", not the path it was built at.
func catalog(ctx context.Context, bin string) (*sbom.SBOM, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	defer os.Chdir(wd) //nolint:errcheck // best effort; main exits soon after

	src, err := filesource.New(filesource.Config{
		Path:             filepath.Base(abs),
		DigestAlgorithms: []crypto.Hash{crypto.SHA256},
	})
	if err != nil {
		return nil, err
	}
	defer src.Close()

	// Syft's defaults record the module cache, GOPROXY and the Maven
	// repository of this machine in the document's configuration; none of
	// them is used (no license search, no network), so they are cleared.
	pkgs := pkgcataloging.DefaultConfig()
	pkgs.Golang.LocalModCacheDir = ""
	pkgs.Golang.Proxies = nil
	pkgs.Golang.NoProxy = nil
	pkgs.JavaArchive.MavenLocalRepositoryDir = ""

	cfg := syft.DefaultCreateSBOMConfig().
		WithPackagesConfig(pkgs).
		// One task at a time: the order of work never depends on the CPUs.
		WithParallelism(1).
		// No file catalogers: their metadata (owner, mode) depends on who
		// built the file, not on its content. The binary's digest is in the
		// source description.
		WithoutFiles().
		WithCatalogerSelection(cataloging.NewSelectionRequest().WithDefaults(goBinaryCataloger))
	s, err := syft.CreateSBOM(ctx, src, cfg)
	if err != nil {
		return nil, err
	}
	if s.Artifacts.Packages.PackageCount() == 0 {
		return nil, fmt.Errorf("no Go modules found (is it a Go binary with build information?)")
	}
	return s, nil
}

func writeSBOMs(ctx context.Context, bin, outDir string, created time.Time) error {
	s, err := catalog(ctx, bin)
	if err != nil {
		return err
	}
	for _, f := range formats {
		enc, err := f.encoder()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := enc.Encode(&buf, *s); err != nil {
			return fmt.Errorf("encoding %s: %w", f.suffix, err)
		}
		doc, err := f.fix(buf.Bytes(), created)
		if err != nil {
			return fmt.Errorf("%s: %w", f.suffix, err)
		}
		name := filepath.Join(outDir, filepath.Base(bin)+"."+f.suffix)
		if err := writeFile(name, doc); err != nil {
			return err
		}
		sum := sha256.Sum256(doc)
		fmt.Printf("> Wrote %s (sha256:%s)\n", name, hex.EncodeToString(sum[:]))
	}
	return nil
}

// writeFile writes data to name atomically, mode 0644.
func writeFile(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".sbom-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

var (
	uuidPattern = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	// CycloneDX: "serialNumber":"urn:uuid:<uuid>" and metadata "timestamp".
	cdxSerial    = regexp.MustCompile(`("serialNumber":\s*"urn:uuid:)` + uuidPattern + `"`)
	cdxTimestamp = regexp.MustCompile(`("timestamp":\s*")[^"]*"`)
	// SPDX: "documentNamespace":"https://anchore.com/syft/file/<name>-<uuid>"
	// and creationInfo "created".
	spdxNamespace = regexp.MustCompile(`("documentNamespace":\s*"[^"]*)` + uuidPattern + `"`)
	spdxCreated   = regexp.MustCompile(`("created":\s*")[^"]*"`)
)

// placeholderUUID stands in for the derived UUID while it is computed.
const placeholderUUID = "00000000-0000-0000-0000-000000000000"

func fixCycloneDX(doc []byte, created time.Time) ([]byte, error) {
	doc, err := replaceOnce(cdxTimestamp, doc, created.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("metadata timestamp: %w", err)
	}
	return pinUUID(cdxSerial, doc, "serialNumber")
}

func fixSPDX(doc []byte, created time.Time) ([]byte, error) {
	doc, err := replaceOnce(spdxCreated, doc, created.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("creationInfo created: %w", err)
	}
	return pinUUID(spdxNamespace, doc, "documentNamespace")
}

// pinUUID replaces the random UUID re matches with one derived from the
// document (with a placeholder in its place), so different content gets a
// different UUID and the same content the same one.
func pinUUID(re *regexp.Regexp, doc []byte, field string) ([]byte, error) {
	doc, err := replaceOnce(re, doc, placeholderUUID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	id := uuid.NewSHA1(uuid.NameSpaceURL, doc).String()
	return replaceOnce(re, doc, id)
}

// replaceOnce replaces the value after re's first group in its only match;
// no match or several is an error (syft's output changed shape).
func replaceOnce(re *regexp.Regexp, doc []byte, value string) ([]byte, error) {
	if n := len(re.FindAllIndex(doc, -1)); n != 1 {
		return nil, fmt.Errorf("want one match of %s, found %d", re, n)
	}
	return re.ReplaceAllFunc(doc, func(m []byte) []byte {
		sub := re.FindSubmatch(m)
		return append(append(append([]byte{}, sub[1]...), value...), '"')
	}), nil
}
