package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/olareg/olareg"
	"github.com/olareg/olareg/config"
)

// embedded is an olareg registry served from this process.
type embedded struct {
	host string // 127.0.0.1:port
	srv  *http.Server
	reg  *olareg.Server
	done chan struct{}
}

// startRegistry serves an in-memory olareg on addr (port 0: any free one).
// Referrers API on, as olareg has it by default.
func startRegistry(addr string) (*embedded, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	reg := olareg.New(config.Config{Storage: config.ConfigStorage{StoreType: config.StoreMem}})
	e := &embedded{
		host: ln.Addr().String(),
		srv:  &http.Server{Handler: reg, ReadHeaderTimeout: 10 * time.Second},
		reg:  reg,
		done: make(chan struct{}),
	}
	go func() {
		defer close(e.done)
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return e, nil
}

func (e *embedded) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	<-e.done
	_ = e.reg.Close()
}

func olaregVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/olareg/olareg" {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

// pushRunImage builds a one-layer linux run image for this host's
// architecture (the CNB user 1000:1000, an /etc/os-release) and pushes it
// to ref; it returns ref pinned by digest.
func pushRunImage(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	layerTar, err := tarOf(map[string]string{
		"etc/os-release": "ID=cnb-artifacts-demo\nNAME=\"CNB artifacts demo run image\"\n",
		"etc/passwd":     "root:x:0:0:root:/root:/sbin/nologin\ncnb:x:1000:1000:cnb:/home/cnb:/sbin/nologin\n",
		"etc/group":      "root:x:0:\ncnb:x:1000:\n",
	})
	if err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return "", err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", hostArch()
	cf.Created = v1.Time{Time: time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)}
	cf.Config.User = "1000:1000"
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "CNB_USER_ID=1000", "CNB_GROUP_ID=1000"}
	cf.Config.Labels = map[string]string{"io.buildpacks.base.id": "cnb-artifacts-demo"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	if err := remote.Write(r, img, remote.WithAuthFromKeychain(keychain())); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Name() + "@" + d.String(), nil
}

// keychain is the docker config's, as crane's; CNB_REGISTRY_AUTH is the
// creator's business.
func keychain() authn.Keychain { return authn.DefaultKeychain }
