package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Buildpack is a buildpack directory and what its buildpack.toml says.
type Buildpack struct{ Dir, ID, Version string }

// ReadBuildpack reads dir/buildpack.toml.
func ReadBuildpack(dir string) (Buildpack, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Buildpack{}, err
	}
	var d struct {
		Buildpack struct{ ID, Version string } `toml:"buildpack"`
	}
	if _, err := toml.DecodeFile(filepath.Join(abs, "buildpack.toml"), &d); err != nil {
		return Buildpack{}, fmt.Errorf("buildpack %s: %w", dir, err)
	}
	if d.Buildpack.ID == "" || d.Buildpack.Version == "" {
		return Buildpack{}, fmt.Errorf("buildpack %s: buildpack.toml lacks [buildpack] id or version", dir)
	}
	return Buildpack{Dir: abs, ID: d.Buildpack.ID, Version: d.Buildpack.Version}, nil
}

// Options say what to make and where.
type Options struct {
	// Registry is host[:port][/path]: the images go to <Registry>/build:latest,
	// <Registry>/run:latest and <Registry>/builder:latest.
	Registry string
	// Busybox is a static busybox (default BusyboxPath).
	Busybox string
	// LifecycleTarball is our release tarball (`make package`).
	LifecycleTarball string
	// Buildpacks are in order: one group.
	Buildpacks []Buildpack
	// Dir receives builder.toml.
	Dir string
	// Pack runs pack with args and returns its output; RunPack makes one.
	Pack func(ctx context.Context, args ...string) (string, error)
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Result is what Create pushed.
type Result struct {
	BuildImage, RunImage string // pinned by digest
	Builder              string // tag
	BuilderTOML          string
}

// Create pushes the busybox build and run images, then makes the builder
// with `pack builder create --publish` (which needs no Docker daemon).
func Create(ctx context.Context, o Options) (Result, error) {
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	if o.Busybox == "" {
		o.Busybox = BusyboxPath
	}
	reg := strings.TrimSuffix(o.Registry, "/")
	var res Result
	for _, img := range []struct {
		role string
		ref  *string
	}{{"build", &res.BuildImage}, {"run", &res.RunImage}} {
		i, err := BaseImage(o.Busybox, img.role)
		if err != nil {
			return res, err
		}
		if *img.ref, err = Push(reg+"/"+img.role+":latest", i); err != nil {
			return res, err
		}
		fmt.Fprintf(logw, "> Pushed %s image %s\n", img.role, *img.ref)
	}
	res.Builder = reg + "/builder:latest"
	res.BuilderTOML = BuilderTOML(o.LifecycleTarball, o.Buildpacks, reg+"/build:latest", reg+"/run:latest")
	config := filepath.Join(o.Dir, "builder.toml")
	if err := os.WriteFile(config, []byte(res.BuilderTOML), 0o644); err != nil {
		return res, err
	}
	fmt.Fprintf(logw, "> Creating builder %s from %s\n", res.Builder, config)
	out, err := o.Pack(ctx, "builder", "create", res.Builder, "--config", config, "--publish", "--pull-policy", "if-not-present")
	if err != nil {
		return res, fmt.Errorf("pack builder create: %w\n%s", err, out)
	}
	return res, nil
}

// BuilderTOML is a builder of our lifecycle tarball and the buildpacks, in
// one group, on the build and run images. No [stack]: pack matches the
// buildpacks' targets against the images' os and architecture.
func BuilderTOML(lifecycleTarball string, bps []Buildpack, buildImage, runImage string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "description = \"busybox builder: lifecycle with OCI artifacts and %d buildpack(s)\"\n\n", len(bps))
	for _, bp := range bps {
		fmt.Fprintf(&b, "[[buildpacks]]\n  uri = %q\n\n", bp.Dir)
	}
	fmt.Fprintf(&b, "[[order]]\n")
	for _, bp := range bps {
		fmt.Fprintf(&b, "  [[order.group]]\n    id = %q\n    version = %q\n", bp.ID, bp.Version)
	}
	fmt.Fprintf(&b, "\n[lifecycle]\n  uri = %q\n\n[build]\n  image = %q\n\n[[run.images]]\n  image = %q\n",
		lifecycleTarball, buildImage, runImage)
	return b.String()
}

// Push pushes img to ref with the docker config's credentials and returns
// ref pinned by digest.
func Push(ref string, img v1.Image) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Name() + "@" + d.String(), nil
}

// PackBuild is the `pack build` line that builds app with the builder (as a
// trusted builder: its creator is ours) and publishes image.
func PackBuild(res Result, app, image string) string {
	return fmt.Sprintf("pack build %s --builder %s --path %s --publish --trust-builder --network host --pull-policy if-not-present", image, res.Builder, app)
}

// RunPack returns a Pack function that runs the pack binary with env
// added to this process's environment.
func RunPack(pack string, env ...string) func(ctx context.Context, args ...string) (string, error) {
	return func(ctx context.Context, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, pack, append(args, "--no-color")...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}
