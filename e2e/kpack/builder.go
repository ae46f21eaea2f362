package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	buildapi "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	corev1alpha1 "github.com/pivotal/kpack/pkg/apis/core/v1alpha1"
	"github.com/pivotal/kpack/pkg/cnb"
	"github.com/pivotal/kpack/pkg/registry"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kpackVersion is what kpack's controller stamps into the builder's
// io.buildpacks.builder.metadata (createdBy).
const kpackVersion = "0.17.0"

// anonymous is kpack's KeychainFactory for registries without credentials.
type anonymous struct{}

func (anonymous) KeychainForSecretRef(context.Context, registry.SecretRef) (authn.Keychain, error) {
	return authn.NewMultiKeychain(authn.DefaultKeychain), nil
}

// builderResult is what the kpack controllers would hold in the statuses
// of the ClusterLifecycle, ClusterStack and ClusterStore, and the builder.
type builderResult struct {
	Lifecycle  buildapi.ResolvedClusterLifecycle `json:"lifecycle"`
	Stack      buildapi.ResolvedClusterStack     `json:"stack"`
	Buildpacks []corev1alpha1.BuildpackStatus    `json:"buildpacks"`
	Builder    buildapi.BuilderRecord            `json:"builder"`
}

func builderCmd(args []string, out io.Writer) error {
	fs := newFlags("builder")
	lifecycle := fs.String("lifecycle", "", "ClusterLifecycle spec.image")
	stackID := fs.String("stack-id", "", "ClusterStack spec.id")
	buildImage := fs.String("build-image", "", "ClusterStack spec.buildImage.image")
	runImage := fs.String("run-image", "", "ClusterStack spec.runImage.image")
	tag := fs.String("tag", "", "ClusterBuilder spec.tag")
	var stores, buildpacks list
	fs.Var(&stores, "store", "ClusterStore spec.sources[].image (repeatable)")
	fs.Var(&buildpacks, "buildpack", "ClusterBuilder spec.order: one group, ID@VERSION in order (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *lifecycle == "" || *stackID == "" || *buildImage == "" || *runImage == "" || *tag == "" || len(stores) == 0 || len(buildpacks) == 0 {
		return errors.New("-lifecycle, -stack-id, -build-image, -run-image, -tag, -store and -buildpack are required")
	}
	client := &registry.Client{}
	keychain := authn.DefaultKeychain
	var res builderResult
	var err error

	// The ClusterLifecycle reconciler.
	res.Lifecycle, err = (&cnb.RemoteLifecycleReader{RegistryClient: client}).Read(keychain,
		buildapi.ClusterLifecycleSpec{ImageSource: corev1alpha1.ImageSource{Image: *lifecycle}})
	if err != nil {
		return fmt.Errorf("ClusterLifecycle %s: %w", *lifecycle, err)
	}
	// The ClusterStack reconciler.
	res.Stack, err = (&cnb.RemoteStackReader{RegistryClient: client}).Read(keychain, buildapi.ClusterStackSpec{
		Id:         *stackID,
		BuildImage: buildapi.ClusterStackSpecImage{Image: *buildImage},
		RunImage:   buildapi.ClusterStackSpecImage{Image: *runImage},
	})
	if err != nil {
		return fmt.Errorf("ClusterStack: %w", err)
	}
	// The ClusterStore reconciler.
	var sources []corev1alpha1.ImageSource
	for _, s := range stores {
		sources = append(sources, corev1alpha1.ImageSource{Image: s})
	}
	res.Buildpacks, err = (&cnb.RemoteBuildpackReader{RegistryClient: client}).Read(keychain, sources)
	if err != nil {
		return fmt.Errorf("ClusterStore: %w", err)
	}

	// The ClusterBuilder reconciler.
	meta := metav1.ObjectMeta{Name: "e2e", Generation: 1}
	clusterLifecycle := &buildapi.ClusterLifecycle{ObjectMeta: meta,
		Spec:   buildapi.ClusterLifecycleSpec{ImageSource: corev1alpha1.ImageSource{Image: *lifecycle}},
		Status: buildapi.ClusterLifecycleStatus{ResolvedClusterLifecycle: res.Lifecycle}}
	clusterStack := &buildapi.ClusterStack{ObjectMeta: meta,
		Status: buildapi.ClusterStackStatus{ResolvedClusterStack: res.Stack}}
	clusterStore := &buildapi.ClusterStore{ObjectMeta: meta,
		Status: buildapi.ClusterStoreStatus{Buildpacks: res.Buildpacks}}
	var group []buildapi.BuilderBuildpackRef
	for _, b := range buildpacks {
		id, version, _ := strings.Cut(b, "@")
		group = append(group, buildapi.BuilderBuildpackRef{BuildpackRef: corev1alpha1.BuildpackRef{
			BuildpackInfo: corev1alpha1.BuildpackInfo{Id: id, Version: version}}})
	}
	spec := buildapi.BuilderSpec{Tag: *tag, Order: []buildapi.BuilderOrderEntry{{Group: group}}}
	fetcher := cnb.NewRemoteBuildpackFetcher(anonymous{}, clusterStore, nil, nil)
	creator := &cnb.RemoteBuilderCreator{RegistryClient: client, KpackVersion: kpackVersion}
	res.Builder, err = creator.CreateBuilder(context.Background(), keychain, keychain, keychain, fetcher,
		clusterStack, clusterLifecycle, spec, nil, *tag)
	if err != nil {
		return fmt.Errorf("creating the builder: %w", err)
	}
	return printJSON(out, res)
}
