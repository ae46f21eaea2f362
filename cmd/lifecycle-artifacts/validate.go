package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/buildpacks/lifecycle/api"
	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/log"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// validateUsage is printed by -h.
const validateUsage = `Usage: lifecycle-artifacts validate [flags] [image ...]

Checks the artifacts.toml files an export would read, with the exporter's
own code and no network, and prints what it would publish. Exits 0, or 63
(every error printed) when a declaration is invalid.

With -buildpack, -layers is one buildpack's own layers directory, as the
buildpack sees it (CNB_LAYERS_DIR), so bin/build can end with
  /cnb/lifecycle/lifecycle-artifacts validate -buildpack "$ID"
Otherwise -layers is the platform's layers directory and -group lists the
buildpacks, as for the exporter.

The image names, optional, are the export's: their tags fill {image-tag} of
CNB_ARTIFACTS_TAG_TEMPLATE and are checked against the artifact tags
(default: one image tagged latest).

Flags:
`

// validateOptions are the inputs of validate.
type validateOptions struct {
	layersDir, groupPath string
	buildpack, version   string
	json                 bool
	images               []string
	group                []artifacts.Buildpack // read from -group
}

// runValidate is `lifecycle-artifacts validate`; it returns the exit code.
func runValidate(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, validateUsage); fs.PrintDefaults() }
	var o validateOptions
	layersDefault := orEnv(getenv, lplatform.EnvLayersDir, lplatform.DefaultLayersDir)
	fs.StringVar(&o.layersDir, "layers", layersDefault, "layers directory (env "+lplatform.EnvLayersDir+"); with -buildpack, that buildpack's own")
	fs.StringVar(&o.groupPath, "group", getenv(lplatform.EnvGroupPath), "group.toml (env "+lplatform.EnvGroupPath+"; default <layers>/group.toml)")
	fs.StringVar(&o.buildpack, "buildpack", "", "check one buildpack's own layers directory (CNB_LAYERS_DIR in bin/build); its ID")
	fs.StringVar(&o.version, "buildpack-version", "", "with -buildpack: its version, for messages")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
	noColor := fs.Bool("no-color", noColorDefault(getenv(lplatform.EnvNoColor), isTerminal(stderr)), "disable color output (env "+lplatform.EnvNoColor+"; default when stderr is not a terminal)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return cmd.CodeForInvalidArgs
	}
	o.images = fs.Args()
	if o.groupPath == "" {
		o.groupPath = filepath.Join(o.layersDir, lplatform.DefaultGroupFile)
	}
	logOut := stderr
	if *noColor {
		logOut = &noColorWriter{w: stderr}
	}
	logger := log.NewDefaultLogger(logOut)
	res, err := validate(o, getenv, logger)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return cmd.CodeForInvalidArgs
	}
	if o.json {
		if err := res.writeJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "ERROR: %v\n", err)
			return cmd.CodeForFailed
		}
	} else {
		res.writeText(stdout, logger)
	}
	if len(res.Errors) > 0 {
		return platform.CodeInvalidArtifacts
	}
	return 0
}

func orEnv(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// validate loads, checks and plans like the exporter. The error is about
// the inputs (no group.toml, a bad template); declaration errors are in the
// result.
func validate(o validateOptions, getenv func(string) string, logger log.Logger) (*validateResult, error) {
	inputs, err := newSettings(nil, nil, getenv)
	if err != nil {
		return nil, err
	}
	res := &validateResult{LayersDir: o.layersDir, TagTemplate: inputs.TagTemplate.String(), ImageTag: "latest",
		Artifacts: []artifactSummary{}, Warnings: []string{}, Errors: []errorSummary{}}
	if len(o.images) > 0 {
		t, err := name.NewTag(o.images[0], name.WeakValidation)
		if err != nil {
			return nil, fmt.Errorf("image name %q: %w", o.images[0], err)
		}
		res.Images, res.ImageTag = o.images, t.TagStr()
	}

	var (
		decls     []artifacts.Declaration
		misplaced []artifacts.Misplaced
		loadErr   error
	)
	if o.buildpack != "" {
		if _, err := os.Stat(o.layersDir); err != nil {
			return nil, fmt.Errorf("layers directory: %w", err)
		}
		bp := artifacts.Buildpack{ID: o.buildpack, Version: o.version}
		res.Buildpack = bp.String()
		misplaced = artifacts.FindMisplacedBuildpack(o.layersDir, bp)
		decls, loadErr = artifacts.LoadBuildpack(o.layersDir, bp)
	} else {
		group, err := files.Handler.ReadGroup(o.groupPath)
		if err != nil {
			return nil, fmt.Errorf("reading the group (-group, or run it in a buildpack's bin/build with -buildpack): %w", err)
		}
		res.Group = o.groupPath
		var bps []artifacts.Buildpack
		for _, bp := range group.Group {
			bps = append(bps, artifacts.Buildpack{ID: bp.ID, Version: bp.Version})
		}
		o.group = bps
		misplaced = artifacts.FindMisplaced(o.layersDir, bps)
		decls, loadErr = artifacts.Load(o.layersDir, bps)
	}
	for _, m := range misplaced {
		res.Warnings = append(res.Warnings, m.String())
	}
	if loadErr != nil {
		res.addErrors(loadErr)
		return res, nil
	}
	// No digest cache: validate reads each file, and writes nothing.
	arts, err := buildArtifacts(decls, nil)
	if err != nil {
		res.addErrors(err)
		return res, nil
	}
	if o.buildpack == "" {
		// The SBOM artifacts, as the export would make them (the platform's
		// layers directory only: a buildpack's own has no sbom/launch yet).
		sboms, skipped, err := sbomArtifacts(log.NewDefaultLogger(io.Discard), inputs, o.sbomInput(getenv)) // skips are res.Warnings
		res.addErrors(err)
		for _, r := range skipped {
			res.Warnings = append(res.Warnings, r.Skipped)
		}
		arts = append(arts, sboms...)
	}
	if err := res.plan(arts, inputs.TagTemplate); err != nil {
		return nil, err
	}
	return res, nil
}

// sbomInput is where the SBOMs of the export validate checks come from:
// -layers and -group, the launcher's SBOMs where the exporter takes them by
// default (/cnb/lifecycle), CNB_PLATFORM_API (default: the newest).
func (o validateOptions) sbomInput(getenv func(string) string) sbomInput {
	in := sbomInput{layersDir: o.layersDir, group: o.group, platformAPI: api.Platform.Latest()}
	if v, err := api.NewVersion(getenv(lplatform.EnvPlatformAPI)); err == nil {
		in.platformAPI = v
	}
	if len(o.images) > 0 {
		in.image = appName(o.images[0])
	}
	return in
}

// plan derives the published tags as the exporter does, for the images
// given or an image tagged latest, and records collisions.
func (r *validateResult) plan(arts []*artifacts.Artifact, tmpl platform.TagTemplate) error {
	images := r.Images
	if len(images) == 0 {
		images = []string{"validate.invalid/app:" + r.ImageTag}
	}
	_, err := exporter.NewPlan(images, arts, tmpl, nil)
	if err != nil && !errors.Is(err, artifacts.ErrInvalid) {
		return err
	}
	r.addErrors(err)
	for _, a := range arts {
		published := ""
		if a.Tag != "" {
			published = tmpl.Expand(a.Tag, r.ImageTag)
		}
		s, err := summarize(a, published)
		if err != nil {
			r.addErrors(err)
			continue
		}
		r.Artifacts = append(r.Artifacts, s)
	}
	return nil
}

// noColorDefault is -no-color's default: CNB_NO_COLOR=true (noColorEnv, as
// lifecycle reads it), or a stderr that is not a terminal.
func noColorDefault(noColorEnv string, terminal bool) bool {
	return noColorEnv == "true" || !terminal
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// ansi matches the color escapes of lifecycle's logger.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// noColorWriter drops color escapes.
type noColorWriter struct{ w io.Writer }

func (n *noColorWriter) Write(b []byte) (int, error) {
	if _, err := n.w.Write(ansi.ReplaceAll(b, nil)); err != nil {
		return 0, err
	}
	return len(b), nil
}
