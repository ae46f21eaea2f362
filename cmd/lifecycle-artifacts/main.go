// Command lifecycle-artifacts is the exporter (and creator) of this lifecycle
// distribution. Like upstream's lifecycle binary it picks its phase from the
// name it was invoked as.
package main

import (
	"fmt"
	"os"

	"github.com/cnb-artifacts/lifecycle/platform"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-version" {
		fmt.Println(platform.Version())
		return
	}
	fmt.Fprintln(os.Stderr, "not implemented yet")
	os.Exit(1)
}
