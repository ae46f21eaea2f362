// Command lifecycle-artifacts is the exporter and the creator of this
// lifecycle distribution: lifecycle v0.21.17's, plus the buildpack-declared
// OCI artifacts of RFC 0113. Like upstream's lifecycle binary it picks its
// phase from the name it is invoked as (/cnb/lifecycle/exporter and
// /cnb/lifecycle/creator are links to it), or from its first argument
// (lifecycle-artifacts export|create). `lifecycle-artifacts validate` checks
// the declarations without a build or a registry (validate.go).
//
// The command glue lives here (flags, inputs, choice of image, exit codes);
// the export transaction is package exporter and the declarations package
// artifacts.
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/cmd/lifecycle/cli"
	lplatform "github.com/buildpacks/lifecycle/platform"

	"github.com/cnb-artifacts/lifecycle/platform"
)

func main() {
	// Logs and -version report this distribution's version; the launcher
	// metadata stamped into images keeps the upstream one (launcherConfig, images.go).
	cmd.Version = platform.Version()
	if err := hideFromUser(); err != nil {
		cmd.DefaultLogger.Warnf("Could not make the process non-dumpable: %v", err)
	}

	phase := strings.TrimSuffix(filepath.Base(os.Args[0]), filepath.Ext(os.Args[0]))
	switch phase {
	case "exporter":
		cli.Run(newExportCmd(platformAPI()), phase, false)
	case "creator":
		cli.Run(newCreateCmd(platformAPI()), phase, false)
	case "rebaser":
		cli.Run(newRebaseCmd(platformAPI()), phase, false)
	default:
		if len(os.Args) < 2 {
			cmd.Exit(cmd.FailCode(cmd.CodeForInvalidArgs, "parse arguments"))
		}
		if os.Args[1] == "-version" {
			cmd.ExitWithVersion()
		}
		switch sub := filepath.Base(os.Args[1]); sub {
		case "validate":
			os.Exit(runValidate(os.Args[2:], os.Stdout, os.Stderr, os.Getenv))
		case "export":
			cli.Run(newExportCmd(platformAPI()), sub, true)
		case "create":
			cli.Run(newCreateCmd(platformAPI()), sub, true)
		case "rebase":
			cli.Run(newRebaseCmd(platformAPI()), sub, true)
		case "reattach":
			cmd.Exit(reattach(os.Args[2:]))
		default:
			cmd.Exit(cmd.FailCode(cmd.CodeForInvalidArgs, "recognize phase:", sub, "\nValid phases: export, create, rebase, validate, reattach"))
		}
	}
}

// platformAPI returns the requested platform API, exiting as lifecycle does
// when it is unsupported.
func platformAPI() string {
	api := cmd.EnvOrDefault(lplatform.EnvPlatformAPI, lplatform.DefaultPlatformAPI)
	if err := cmd.VerifyPlatformAPI(api, cmd.DefaultLogger); err != nil {
		cmd.Exit(err)
	}
	return api
}
