// Command demo builds the sample app with the sample buildpacks through this
// repository's lifecycle creator, on this host, without Docker, and shows
// what the exporter published: the app image and, attached to it, a
// WebAssembly module, a Helm chart and a JUnit report.
//
// By default it starts an olareg registry in this process, on 127.0.0.1, so
// the referrers API is real; -registry exports to another registry instead.
//
// Usage (from the repository root; `make demo` does this):
//
//	out/demo -lifecycle out/lifecycle -samples samples [-registry host/repo] [-serve]
//	out/demo -lifecycle out/lifecycle -buildpack DIR [-buildpack DIR ...] -app DIR
//
// It is its own Go module so that olareg's dependencies never reach the
// lifecycle binaries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	lifecycleDir  string
	samplesDir    string
	appDir        string        // default <samples>/app
	buildpackDirs buildpackList // in order; default the buildpacks of -samples
	registry      string        // host/repo of the app image; empty: embedded registry
	runImage      string
	addr          string
	workDir       string
	keep          bool
	serve         bool
	uid, gid      int
	platformAPI   string
	sbom          bool // CNB_ARTIFACTS_SBOM=referrers for the creator
}

func main() {
	var o options
	flag.StringVar(&o.lifecycleDir, "lifecycle", "out/lifecycle", "directory with the lifecycle binaries (make build)")
	flag.StringVar(&o.samplesDir, "samples", "samples", "directory with buildpack directories (each with a buildpack.toml) and app/")
	flag.Var(&o.buildpackDirs, "buildpack", "a buildpack directory to build with instead of the samples; repeat it, in order")
	flag.StringVar(&o.appDir, "app", "", "the app's source directory (default: <samples>/app)")
	flag.StringVar(&o.registry, "registry", "", "export to this repository (host[:port]/repo) instead of the embedded registry; credentials: CNB_REGISTRY_AUTH or the docker config")
	flag.StringVar(&o.runImage, "run-image", "", "run image to use as is (default: build a tiny one and push it next to the app as <repo>-run:latest)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address of the embedded registry")
	flag.StringVar(&o.workDir, "workspace", "", "lay the workspace out here (default: a temporary directory, removed at the end unless -keep)")
	flag.BoolVar(&o.keep, "keep", false, "keep the workspace")
	flag.BoolVar(&o.serve, "serve", false, "keep the embedded registry running after the build, until interrupted, to try the pull commands")
	flag.IntVar(&o.uid, "uid", -1, "CNB_USER_ID for the build (default: 1000 or another non-root user of /etc/passwd when run as root, else the current user)")
	flag.IntVar(&o.gid, "gid", -1, "CNB_GROUP_ID for the build (default: the user's group)")
	flag.StringVar(&o.platformAPI, "platform-api", "0.13", "CNB_PLATFORM_API (pack 0.38 uses 0.13)")
	flag.BoolVar(&o.sbom, "sbom", os.Getenv("CNB_ARTIFACTS_SBOM") == "referrers", "publish the launch SBOMs as referrers of the app image (CNB_ARTIFACTS_SBOM=referrers for the creator; default: on when this environment sets it)")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// run returns the exit code: the creator's when it fails.
func run(ctx context.Context, o options, out io.Writer) (int, error) {
	start := time.Now()
	var err error
	if err := resolveInputs(&o); err != nil {
		return 1, err
	}
	creator := filepath.Join(o.lifecycleDir, "creator")
	if _, err := os.Stat(creator); err != nil {
		return 1, fmt.Errorf("%v (run make build first)", err)
	}

	// Registry.
	repo := strings.TrimSuffix(o.registry, "/")
	var reg *embedded
	if repo == "" {
		if reg, err = startRegistry(o.addr); err != nil {
			return 1, err
		}
		defer reg.close()
		repo = reg.host + "/demo/app"
		fmt.Fprintf(out, "> Started olareg %s (embedded, in memory) on http://%s\n", olaregVersion(), reg.host)
	} else if strings.ContainsAny(repo, ":@") && strings.LastIndex(repo, ":") > strings.Index(repo, "/") {
		return 1, fmt.Errorf("-registry %q: give a repository without tag or digest", o.registry)
	}
	appImage := repo + ":latest"

	// Run image.
	runImage := o.runImage
	if runImage == "" {
		if runImage, err = pushRunImage(repo + "-run:latest"); err != nil {
			return 1, fmt.Errorf("pushing the run image: %w", err)
		}
		fmt.Fprintf(out, "> Pushed run image %s (built with go-containerregistry)\n", runImage)
	}

	// Workspace.
	ws, err := newWorkspace(o, runImage)
	if err != nil {
		return 1, err
	}
	if !o.keep && o.workDir == "" {
		defer os.RemoveAll(ws.dir)
	}
	fmt.Fprintf(out, "> Workspace %s: app from %s, buildpacks %s, CNB_USER_ID=%d CNB_GROUP_ID=%d\n",
		ws.dir, o.appDir, strings.Join(ws.buildpackIDs, ", "), ws.uid, ws.gid)

	// Build.
	kind, version := describeCreator(o.lifecycleDir)
	fmt.Fprintf(out, "> Running %s (%s, lifecycle %s), platform API %s\n\n", creator, kind, version, o.platformAPI)
	buildStart := time.Now()
	code, err := ws.runCreator(ctx, creator, appImage, out)
	buildTime := time.Since(buildStart)
	if err != nil {
		return code, fmt.Errorf("creator: %w", err)
	}
	fmt.Fprintf(out, "\n> Creator finished in %s\n\n", buildTime.Round(10*time.Millisecond))

	// Results.
	reportBytes, err := os.ReadFile(ws.report)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(out, "=== report.toml (%s)\n%s\n", ws.report, strings.TrimRight(string(reportBytes), "\n"))
	rep, err := parseReport(reportBytes)
	if err != nil {
		return 1, err
	}
	fmt.Fprintln(out)
	if err := printTree(out, rep, repo, reg != nil); err != nil {
		return 1, err
	}
	fmt.Fprintf(out, "\n> Done in %s.\n", time.Since(start).Round(10*time.Millisecond))

	if reg != nil {
		if o.serve {
			fmt.Fprintf(out, "> Serving %s until interrupted (Ctrl-C).\n", reg.host)
			<-ctx.Done()
		} else {
			fmt.Fprintf(out, "> The embedded registry stops now. To try the pull commands, run `make demo DEMO_FLAGS=-serve` (or out/demo -serve) and use a second terminal.\n")
		}
	}
	if o.keep || o.workDir != "" {
		fmt.Fprintf(out, "> Workspace kept in %s\n", ws.dir)
	}
	return 0, nil
}

var errNoArtifacts = errors.New("the report lists no artifacts")
