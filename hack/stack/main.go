// Command stack makes what `pack build` needs to try buildpacks with this
// lifecycle on a machine that pulls nothing: it pushes busybox build and run
// images, made from scratch, and a builder of our lifecycle tarball and the
// given buildpacks to a registry of your choice, and prints the `pack build`
// line to run. `make stack` runs it; the e2e tests make their stack with the
// same code (internal/stack).
//
//	go run ./hack/stack -registry 127.0.0.1:5000/cnb [-buildpack DIR ...] [-app DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/cnb-artifacts/lifecycle/internal/stack"
)

type dirs []string

func (d *dirs) String() string     { return strings.Join(*d, ",") }
func (d *dirs) Set(s string) error { *d = append(*d, s); return nil }

func main() {
	var (
		registry, lifecycleDir, tarball, pack, busybox, app string
		bpDirs                                              dirs
	)
	flag.StringVar(&registry, "registry", "", "host[:port][/path] to push <registry>/build, /run and /builder to (required)")
	flag.StringVar(&lifecycleDir, "lifecycle", "out/lifecycle", "directory of `make build`; its lifecycle.toml names the tarball")
	flag.StringVar(&tarball, "tarball", "", "lifecycle tarball (default: out/lifecycle-v<version>.linux.x86-64.tgz of `make package`)")
	flag.StringVar(&pack, "pack", "tools/bin/pack", "pack binary (make tools/bin/pack)")
	flag.StringVar(&busybox, "busybox", stack.BusyboxPath, "a static busybox (Debian busybox-static)")
	flag.Var(&bpDirs, "buildpack", "a buildpack directory; repeat it, in order (default: samples/wasm, samples/helm, samples/tests)")
	flag.StringVar(&app, "app", "samples/app", "the app directory to print in the pack build line")
	flag.Parse()
	if err := run(registry, lifecycleDir, tarball, pack, busybox, app, bpDirs); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func run(registry, lifecycleDir, tarball, pack, busybox, app string, bpDirs []string) error {
	if registry == "" {
		return errors.New("-registry is required, e.g. -registry 127.0.0.1:5000/cnb (make stack STACK_REGISTRY=…)")
	}
	if tarball == "" {
		var d struct {
			Lifecycle struct{ Version string } `toml:"lifecycle"`
		}
		if _, err := toml.DecodeFile(filepath.Join(lifecycleDir, "lifecycle.toml"), &d); err != nil {
			return fmt.Errorf("reading the lifecycle version (make build): %w", err)
		}
		tarball = filepath.Join(filepath.Dir(lifecycleDir), "lifecycle-v"+d.Lifecycle.Version+".linux.x86-64.tgz")
	}
	var err error
	if tarball, err = filepath.Abs(tarball); err != nil {
		return err
	}
	if _, err := os.Stat(tarball); err != nil {
		return fmt.Errorf("lifecycle tarball (make package): %w", err)
	}
	if len(bpDirs) == 0 {
		bpDirs = []string{"samples/wasm", "samples/helm", "samples/tests"}
	}
	var bps []stack.Buildpack
	for _, d := range bpDirs {
		bp, err := stack.ReadBuildpack(d)
		if err != nil {
			return err
		}
		bps = append(bps, bp)
	}
	if pack, err = filepath.Abs(pack); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cnb-stack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := stack.Create(context.Background(), stack.Options{
		Registry: registry, Busybox: busybox, LifecycleTarball: tarball, Buildpacks: bps,
		Dir: dir, Pack: stack.RunPack(pack), Log: os.Stdout,
	})
	if err != nil {
		return err
	}
	if app, err = filepath.Abs(app); err != nil {
		return err
	}
	fmt.Printf("> Builder %s\n\nbuilder.toml:\n%s\nBuild with (needs the Docker daemon):\n\n  %s\n",
		res.Builder, res.BuilderTOML, stack.PackBuild(res, app, strings.TrimSuffix(registry, "/")+"/app"))
	return nil
}
