// This file mirrors upstream's cmd/lifecycle/creator.go, lifecycle v0.21.17
// (the version in go.mod): DefineFlags is upstream's verbatim, and
// inputVars names every CNB_* input of upstream's
// platform.NewLifecycleInputs (platform/lifecycle_inputs.go) that a stock
// phase reads. TestMirrorsUpstream and TestCreatorEnvMirrorsUpstream compare
// them with the module cache's copy and fail when upstream changed.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/buildpacks/lifecycle/auth"
	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/cmd/lifecycle/cli"
	lplatform "github.com/buildpacks/lifecycle/platform"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/buildpacks/lifecycle/priv"

	"github.com/cnb-artifacts/lifecycle/platform"
)

// createCmd is lifecycle's creator: analyze, detect, restore, build and
// export in one container. The first four are upstream's phases, run as the
// stock binary next to this one, with the resolved inputs passed as their
// CNB_* environment variables; export is ours and runs in this process, so
// the artifacts are published. Flags, inputs, privilege handling and exit
// codes are the stock creator's; docs/spec.md lists the differences.
type createCmd struct {
	*lplatform.Platform
	deps exportDeps // resolved as root, for the export

	rootEnv []string // the environment before switching HOME to the CNB user's
	userEnv []string
}

func newCreateCmd(api string) *createCmd {
	p := lplatform.NewPlatformFor(api)
	return &createCmd{Platform: p}
}

// DefineFlags defines the stock creator's flags for the platform API.
func (c *createCmd) DefineFlags() {
	if c.PlatformAPI.AtLeast("0.15") {
		cli.FlagSystemPath(&c.SystemPath)
	}
	if c.PlatformAPI.AtLeast("0.13") {
		cli.FlagInsecureRegistries(&c.InsecureRegistries)
	}
	if c.PlatformAPI.AtLeast("0.12") {
		cli.FlagLayoutDir(&c.LayoutDir)
		cli.FlagUseLayout(&c.UseLayout)
		cli.FlagRunPath(&c.RunPath)
	}
	if c.PlatformAPI.AtLeast("0.11") {
		cli.FlagBuildConfigDir(&c.BuildConfigDir)
		cli.FlagLauncherSBOMDir(&c.LauncherSBOMDir)
	}
	cli.FlagAppDir(&c.AppDir)
	cli.FlagBuildpacksDir(&c.BuildpacksDir)
	cli.FlagCacheDir(&c.CacheDir)
	cli.FlagCacheImage(&c.CacheImageRef)
	cli.FlagGID(&c.GID)
	cli.FlagLaunchCacheDir(&c.LaunchCacheDir)
	cli.FlagLauncherPath(&c.LauncherPath)
	cli.FlagLayersDir(&c.LayersDir)
	cli.FlagLogLevel(&c.LogLevel)
	cli.FlagNoColor(&c.NoColor)
	cli.FlagOrderPath(&c.OrderPath)
	cli.FlagParallelExport(&c.ParallelExport)
	cli.FlagPlatformDir(&c.PlatformDir)
	cli.FlagPreviousImage(&c.PreviousImageRef)
	cli.FlagProcessType(&c.DefaultProcessType)
	cli.FlagProjectMetadataPath(&c.ProjectMetadataPath)
	cli.FlagReportPath(&c.ReportPath)
	cli.FlagRunImage(&c.RunImageRef)
	cli.FlagSkipRestore(&c.SkipLayers)
	cli.FlagStackPath(&c.StackPath)
	cli.FlagTags(&c.AdditionalTags)
	cli.FlagUID(&c.UID)
	cli.FlagUseDaemon(&c.UseDaemon)
}

// Args takes the one image name and resolves the inputs.
func (c *createCmd) Args(nargs int, args []string) error {
	if nargs != 1 {
		return cmd.FailErrCode(fmt.Errorf("received %d arguments, but expected 1", nargs), cmd.CodeForInvalidArgs, "parse arguments")
	}
	c.OutputImageRef = args[0]
	if err := lplatform.ResolveInputs(lplatform.Create, c.LifecycleInputs, cmd.DefaultLogger); err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "resolve inputs")
	}
	var err error
	if c.deps.settings, err = newSettings(c.LifecycleInputs, c.InsecureRegistries, os.Getenv); err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "resolve inputs")
	}
	if c.deps.settings.kind == kindLayout {
		if err := lplatform.GuardExperimental(lplatform.LayoutFormat, cmd.DefaultLogger); err != nil {
			return err
		}
	}
	return nil
}

// Privileges resolves credentials and the daemon client as root, hands the
// volumes to the CNB user and switches HOME to that user's, as the stock
// creator does. The privileges themselves are dropped by each phase: the
// stock ones in their own process, export before it runs.
func (c *createCmd) Privileges() error {
	var err error
	if c.deps.keychain, err = auth.DefaultKeychain(c.RegistryImages()...); err != nil {
		return cmd.FailErr(err, "resolve keychain")
	}
	if c.deps.settings.kind == kindDaemon {
		if c.deps.docker, err = priv.DockerClient(); err != nil {
			return cmd.FailErr(err, "initialize docker client")
		}
	}
	// Buildpacks run in this container as the CNB user: a key file that
	// user can read is refused.
	if err := c.deps.settings.loadSigner(cmd.DefaultLogger, &buildUser{uid: c.UID, gid: c.GID}); err != nil {
		return err
	}
	if err = priv.EnsureOwner(c.UID, c.GID, c.CacheDir, c.LaunchCacheDir, c.LayersDir); err != nil {
		return cmd.FailErr(err, "chown volumes")
	}
	c.rootEnv = os.Environ()
	if err = priv.SetEnvironmentForUser(c.UID); err != nil {
		return cmd.FailErr(err, fmt.Sprintf("set environment for user %d", c.UID))
	}
	c.userEnv = os.Environ()
	return nil
}

// Exec runs the phases in the stock creator's order.
func (c *createCmd) Exec() error {
	cmd.DefaultLogger.Phase("ANALYZING")
	var tags []string
	for _, t := range c.AdditionalTags {
		tags = append(tags, "-tag", t)
	}
	if err := c.runStock("analyze", false, append(tags, c.OutputImageRef)...); err != nil {
		return err
	}

	cmd.DefaultLogger.Phase("DETECTING")
	if err := c.runStock("detect", true); err != nil {
		return err
	}
	group, err := files.Handler.ReadGroup(c.GroupPath)
	if err != nil {
		return err
	}
	if group.HasExtensions() {
		return cmd.FailErrCode(errors.New("detected order contains extensions which is not supported by the creator"),
			c.CodeFor(lplatform.DetectError), "detect")
	}

	if !c.SkipLayers || c.PlatformAPI.AtLeast("0.10") {
		cmd.DefaultLogger.Phase("RESTORING")
		if err := c.runStock("restore", false); err != nil {
			return err
		}
	}

	cmd.DefaultLogger.Phase("BUILDING")
	if err := c.runStock("build", true); err != nil {
		return err
	}

	cmd.DefaultLogger.Phase("EXPORTING")
	if c.deps.analyzed, err = files.Handler.ReadAnalyzed(c.AnalyzedPath, cmd.DefaultLogger); err != nil {
		return err
	}
	e := &exportCmd{Platform: c.Platform, exportDeps: c.deps}
	if err := e.dropPrivileges(); err != nil {
		return err
	}
	return e.Exec()
}

// runStock runs one of upstream's phases from the lifecycle binary next to
// this one. asUser starts it as the CNB user (detect and build refuse root);
// the others start as this process's user and drop privileges themselves.
// Its exit code becomes the creator's.
func (c *createCmd) runStock(phase string, asUser bool, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return cmd.FailErr(err, "locate lifecycle")
	}
	bin := filepath.Join(filepath.Dir(self), "lifecycle")
	run := exec.Command(bin, append([]string{phase}, args...)...)
	run.Env = c.phaseEnv(asUser)
	run.Stdout, run.Stderr = os.Stdout, os.Stderr
	run.SysProcAttr = c.phaseAttr(asUser, os.Getuid())
	if err := run.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			// The phase has logged its error; keep its exit code.
			return cmd.FailCode(exit.ExitCode(), phase)
		}
		return cmd.FailErr(err, "run "+phase)
	}
	return nil
}

// phaseAttr is how a stock phase starts when this process runs as uid: as
// the CNB user (its user and group, no supplementary groups) when asUser and
// this process is another user; otherwise nil, as this process's user.
func (c *createCmd) phaseAttr(asUser bool, uid int) *syscall.SysProcAttr {
	if !asUser || uid == c.UID {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(c.UID), Gid: uint32(c.GID), Groups: []uint32{},
	}}
}

// phaseEnv is the environment of a stock phase: the creator's, with the
// CNB_* inputs replaced by the creator's resolved ones, so each stock phase
// resolves the same inputs as the creator. An input resolved to "" is left
// unset. A phase that starts as root (analyze, restore) gets the rest as it
// is (CNB_REGISTRY_AUTH, SOURCE_DATE_EPOCH, DOCKER_HOST, …): it reads the
// registries and drops privileges itself. A phase that runs as the CNB user
// (detect, build), whose environment every buildpack can read, gets only
// what platform.UserPhaseEnv lets through: no credential.
func (c *createCmd) phaseEnv(asUser bool) []string {
	env := c.rootEnv
	if asUser {
		env = platform.UserPhaseEnv(c.userEnv)
	}
	vars := c.inputVars()
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := vars[k]; !ours {
			out = append(out, kv)
		}
	}
	for k, v := range vars {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// inputVars maps each CNB_* input variable to its resolved value.
func (c *createCmd) inputVars() map[string]string {
	i := c.LifecycleInputs
	return map[string]string{
		lplatform.EnvPlatformAPI:         c.PlatformAPI.String(),
		lplatform.EnvLogLevel:            i.LogLevel,
		lplatform.EnvNoColor:             strconv.FormatBool(i.NoColor),
		lplatform.EnvUseDaemon:           strconv.FormatBool(i.UseDaemon),
		lplatform.EnvInsecureRegistries:  strings.Join(i.InsecureRegistries, ","),
		lplatform.EnvUseLayout:           strconv.FormatBool(i.UseLayout),
		lplatform.EnvLayoutDir:           i.LayoutDir,
		lplatform.EnvUID:                 strconv.Itoa(i.UID),
		lplatform.EnvGID:                 strconv.Itoa(i.GID),
		lplatform.EnvBuildConfigDir:      i.BuildConfigDir,
		lplatform.EnvBuildpacksDir:       i.BuildpacksDir,
		lplatform.EnvOrderPath:           i.OrderPath,
		lplatform.EnvSystemPath:          i.SystemPath,
		lplatform.EnvRunPath:             i.RunPath,
		lplatform.EnvStackPath:           i.StackPath,
		lplatform.EnvAppDir:              i.AppDir,
		lplatform.EnvLayersDir:           i.LayersDir,
		lplatform.EnvPlatformDir:         i.PlatformDir,
		lplatform.EnvAnalyzedPath:        i.AnalyzedPath,
		lplatform.EnvGroupPath:           i.GroupPath,
		lplatform.EnvPlanPath:            i.PlanPath,
		lplatform.EnvCacheDir:            i.CacheDir,
		lplatform.EnvCacheImage:          i.CacheImageRef,
		lplatform.EnvLaunchCacheDir:      i.LaunchCacheDir,
		lplatform.EnvSkipLayers:          strconv.FormatBool(i.SkipLayers),
		lplatform.EnvPreviousImage:       i.PreviousImageRef,
		lplatform.EnvRunImage:            i.RunImageRef,
		lplatform.EnvExecEnv:             i.ExecEnv,
		lplatform.EnvProjectMetadataPath: i.ProjectMetadataPath,
		lplatform.EnvSkipRestore:         "",
	}
}
