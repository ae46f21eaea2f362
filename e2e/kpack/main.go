// Command kpack-e2e runs the parts of kpack v0.17.0 that decide how kpack
// runs a lifecycle, with kpack's own code, for the e2e test in ../kpack_test.go:
//
//	kpack-e2e builder -lifecycle REF -stack-id ID -build-image REF -run-image REF -store REF... -buildpack ID@VERSION... -tag REF
//	    resolves a ClusterLifecycle (pkg/cnb RemoteLifecycleReader), a
//	    ClusterStack (RemoteStackReader) and a ClusterStore
//	    (RemoteBuildpackReader), creates and pushes the builder
//	    (RemoteBuilderCreator.CreateBuilder) and prints the three statuses
//	    and the builder record as JSON.
//	kpack-e2e pod -build FILE -objects FILE -build-init-image REF -completion-image REF
//	    generates the build Pod of a Build (kpack's JSON) with kpack's
//	    buildpod.Generator (which calls Build.BuildPod) against a fake
//	    Kubernetes API holding the objects (a v1 List of ServiceAccounts and
//	    Secrets), and prints the Pod as JSON.
//	kpack-e2e termination -file FILE
//	    decodes the termination message kpack's completion container wrote
//	    (cnb.DecompressBuildMetadata) and prints it as JSON.
//
// It is its own Go module, so kpack's dependencies never reach the lifecycle
// binaries; go.mod starts from kpack's own requirements.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kpack-e2e builder|pod|termination [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string, io.Writer) error{
		"builder":     builderCmd,
		"pod":         podCmd,
		"termination": terminationCmd,
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "kpack-e2e: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := cmd(os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kpack-e2e %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet("kpack-e2e "+name, flag.ContinueOnError)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
