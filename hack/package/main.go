// Command package writes the distribution of this lifecycle: one release
// tarball per platform, laid out like upstream's (see tarball.go), and the
// lifecycle image, a multi-platform OCI image index built with
// go-containerregistry (see image.go).
//
// The version is read from the lifecycle.toml it is given, never passed in.
//
// Usage:
//
//	go run ./hack/package -descriptor out/lifecycle/lifecycle.toml \
//	    -platform linux/amd64=out/package/linux-amd64/lifecycle \
//	    -platform linux/arm64=out/package/linux-arm64/lifecycle \
//	    -out out [-image host/repo:tag | -layout out/lifecycle-image]
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

type platformDir struct {
	os, arch string
	dir      string
}

type platformFlags []platformDir

func (p *platformFlags) String() string { return fmt.Sprint(*p) }

func (p *platformFlags) Set(v string) error {
	plat, dir, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want os/arch=dir, got %q", v)
	}
	osName, arch, ok := strings.Cut(plat, "/")
	if !ok || osName == "" || arch == "" {
		return fmt.Errorf("want os/arch=dir, got %q", v)
	}
	*p = append(*p, platformDir{os: osName, arch: arch, dir: dir})
	return nil
}

func main() {
	var (
		descriptor = flag.String("descriptor", "", "lifecycle.toml to package (its [lifecycle] version names the files)")
		outDir     = flag.String("out", "out", "directory for the tarballs")
		image      = flag.String("image", "", "push the lifecycle image index to this reference (host/repo:tag)")
		layoutDir  = flag.String("layout", "", "write the lifecycle image index as an OCI layout here (when -image is not set)")
		caCerts    = flag.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to add to the image as /etc/ssl/certs/ca-certificates.crt (empty: none)")
		platforms  platformFlags
	)
	flag.Var(&platforms, "platform", "os/arch=dir of built binaries; repeat per platform")
	flag.Parse()
	if *descriptor == "" || len(platforms) == 0 || (*image == "" && *layoutDir == "") {
		flag.Usage()
		os.Exit(2)
	}
	err := run(*descriptor, *outDir, *image, *layoutDir, *caCerts, platforms)
	cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(descriptorPath, outDir, image, layoutDir, caCerts string, platforms []platformDir) error {
	desc, err := readDescriptor(descriptorPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, p := range platforms {
		if err := checkSBOMs(p.dir); err != nil {
			return err
		}
	}
	var tarballs []tarballFile
	for _, p := range platforms {
		name := filepath.Join(outDir, tarballName(desc.Lifecycle.Version, p.os, p.arch))
		sum, err := writeTarball(name, desc.raw, p.dir)
		if err != nil {
			return fmt.Errorf("tarball %s: %w", name, err)
		}
		fmt.Printf("> Wrote %s (sha256:%s)\n", name, sum)
		if err := printSums(name + ".sha256"); err != nil {
			return err
		}
		tarballs = append(tarballs, tarballFile{platformDir: p, path: name})
	}

	var ca []byte
	if caCerts != "" {
		if ca, err = os.ReadFile(caCerts); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reading CA bundle: %w", err)
		}
		if os.IsNotExist(err) {
			fmt.Fprintf(os.Stderr, "package: warning: %s not found; the lifecycle image has no CA bundle and cannot reach TLS registries\n", caCerts)
		}
	}
	idx, err := buildIndex(desc, tarballs, ca)
	if err != nil {
		return fmt.Errorf("lifecycle image: %w", err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	if image != "" {
		pinned, err := pushIndex(image, idx)
		if err != nil {
			return fmt.Errorf("pushing lifecycle image: %w", err)
		}
		fmt.Printf("> Pushed lifecycle image %s\n", image)
		fmt.Printf("lifecycle image: %s\n", pinned)
	} else {
		if err := writeLayout(layoutDir, desc.Lifecycle.Version, idx); err != nil {
			return fmt.Errorf("writing OCI layout: %w", err)
		}
		fmt.Printf("> Wrote lifecycle image as an OCI layout in %s (ref.name %q)\n", layoutDir, desc.Lifecycle.Version)
		if err := printLayoutSums(layoutDir); err != nil {
			return err
		}
		fmt.Printf("lifecycle image: %s@%s\n", layoutDir, digest)
	}
	fmt.Printf("lifecycle image index digest: %s\n", digest)
	return nil
}

// tarballName follows upstream's release names, with our version:
// lifecycle-v<version>.linux.x86-64.tgz, lifecycle-v<version>.linux.arm64.tgz.
func tarballName(version, osName, arch string) string {
	if arch == "amd64" {
		arch = "x86-64"
	}
	return fmt.Sprintf("lifecycle-v%s.%s.%s.tgz", version, osName, arch)
}

// printSums prints "> Wrote <path> (sha256:<hex>)" for each file.
func printSums(paths ...string) error {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Printf("> Wrote %s (sha256:%x)\n", p, sha256.Sum256(b))
	}
	return nil
}

// printLayoutSums prints the sha256 of every file of the OCI layout, in
// lexical order.
func printLayoutSums(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	return printSums(paths...)
}
