package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cnb-artifacts/lifecycle/registry"
)

// resolveFunc returns the digest a reference names, "" when it names
// nothing (the registry answers 404), or an error when it cannot tell.
type resolveFunc func(ctx context.Context, ref name.Reference) (string, error)

// checkNames resolves every name a command was told to move to the image
// want ("sha256:…") before anything is written: a name that already names
// another image is refused (*nameError, exit 63), saying which image it
// names; a name that names nothing yet is created by the command, and one
// that cannot be resolved fails it. The first error wins.
func checkNames(ctx context.Context, names []string, want string, s settings, resolve resolveFunc) error {
	for _, n := range names {
		ref, err := s.parse(n)
		if err != nil {
			return fmt.Errorf("image name %q: %w", n, err)
		}
		got, err := resolve(ctx, ref)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", ref.Name(), err)
		}
		if got != "" && got != want {
			return &nameError{name: ref.Name(), names: got, want: want}
		}
	}
	return nil
}

// headDigest resolves ref with a HEAD request through the registry client:
// the digest it names, or "" when the registry has no such manifest.
func headDigest(ctx context.Context, ref name.Reference, o registry.Options) (string, error) {
	c, err := registry.Dial(ctx, ref.Context().Registry, registry.Pull(ref.Context()), o)
	if err != nil {
		return "", err
	}
	desc, err := c.Head(ctx, ref.Context(), ref.Identifier())
	if registry.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}
