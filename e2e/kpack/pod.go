package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	buildapi "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	"github.com/pivotal/kpack/pkg/buildpod"
	"github.com/pivotal/kpack/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// objects are what the Kubernetes API holds for the Build's namespace.
type objects struct {
	ServiceAccounts []corev1.ServiceAccount `json:"serviceAccounts"`
	Secrets         []corev1.Secret         `json:"secrets"`
}

func podCmd(args []string, out io.Writer) error {
	fs := newFlags("pod")
	buildFile := fs.String("build", "", "the Build, as kpack's Image reconciler creates it (JSON)")
	objectsFile := fs.String("objects", "", "ServiceAccounts and Secrets of the namespace (JSON)")
	var images buildapi.BuildPodImages
	fs.StringVar(&images.BuildInitImage, "build-init-image", "", "kpack config: build-init image")
	fs.StringVar(&images.CompletionImage, "completion-image", "", "kpack config: completion image")
	fs.StringVar(&images.BuildWaiterImage, "build-waiter-image", "", "kpack config: build-waiter image")
	fs.StringVar(&images.RebaseImage, "rebase-image", "", "kpack config: rebase image")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *buildFile == "" || *objectsFile == "" || images.BuildInitImage == "" || images.CompletionImage == "" {
		return errors.New("-build, -objects, -build-init-image and -completion-image are required")
	}
	var build buildapi.Build
	if err := readJSON(*buildFile, &build); err != nil {
		return err
	}
	var objs objects
	if err := readJSON(*objectsFile, &objs); err != nil {
		return err
	}
	var rt []runtime.Object
	for i := range objs.ServiceAccounts {
		rt = append(rt, &objs.ServiceAccounts[i])
	}
	for i := range objs.Secrets {
		rt = append(rt, &objs.Secrets[i])
	}
	g := &buildpod.Generator{
		BuildPodConfig:  images,
		K8sClient:       fake.NewSimpleClientset(rt...),
		KeychainFactory: anonymous{},
		ImageFetcher:    &registry.Client{},
	}
	pod, err := g.Generate(context.Background(), &build)
	if err != nil {
		return fmt.Errorf("generating the build pod: %w", err)
	}
	return printJSON(out, pod)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
