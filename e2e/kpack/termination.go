package main

import (
	"errors"
	"io"
	"os"

	"github.com/pivotal/kpack/pkg/cnb"
)

func terminationCmd(args []string, out io.Writer) error {
	fs := newFlags("termination")
	file := fs.String("file", "", "the termination message of the completion container")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("-file is required")
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	md, err := cnb.DecompressBuildMetadata(string(b))
	if err != nil {
		return err
	}
	return printJSON(out, md)
}
