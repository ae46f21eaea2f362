//go:build e2e && kpack

package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pod is the part of a Kubernetes Pod (core/v1) the runner reads.
type pod struct {
	Metadata struct{ Name string } `json:"metadata"`
	Spec     struct {
		InitContainers  []podContainer     `json:"initContainers"`
		Containers      []podContainer     `json:"containers"`
		Volumes         []podVolume        `json:"volumes"`
		SecurityContext podSecurityContext `json:"securityContext"`
	} `json:"spec"`
}

type podSecurityContext struct {
	RunAsUser                *int64 `json:"runAsUser"`
	RunAsGroup               *int64 `json:"runAsGroup"`
	RunAsNonRoot             *bool  `json:"runAsNonRoot"`
	FSGroup                  *int64 `json:"fsGroup"`
	AllowPrivilegeEscalation *bool  `json:"allowPrivilegeEscalation"`
	Capabilities             *struct {
		Drop []string `json:"drop"`
		Add  []string `json:"add"`
	} `json:"capabilities"`
}

type podContainer struct {
	Name       string   `json:"name"`
	Image      string   `json:"image"`
	Command    []string `json:"command"`
	Args       []string `json:"args"`
	WorkingDir string   `json:"workingDir"`
	Env        []struct {
		Name      string `json:"name"`
		Value     string `json:"value"`
		ValueFrom any    `json:"valueFrom"`
	} `json:"env"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
		SubPath   string `json:"subPath"`
		ReadOnly  bool   `json:"readOnly"`
	} `json:"volumeMounts"`
	SecurityContext        *podSecurityContext `json:"securityContext"`
	TerminationMessagePath string              `json:"terminationMessagePath"`
}

type podVolume struct {
	Name     string    `json:"name"`
	EmptyDir *struct{} `json:"emptyDir"`
	Secret   *struct {
		SecretName string `json:"secretName"`
	} `json:"secret"`
	PersistentVolumeClaim *struct {
		ClaimName string `json:"claimName"`
	} `json:"persistentVolumeClaim"`
}

// podRun runs a Pod as the kubelet would, one container after the other:
// the init containers in order, then the containers (kpack's build Pod has
// one, completion). A failing container stops the run.
type podRun struct {
	pod     pod
	docker  *dockerObjects
	busybox string            // an image with a busybox, to initialise volumes
	claims  map[string]string // PersistentVolumeClaim -> Docker volume
	secrets map[string]string // Secret -> host directory of its files

	volumes     map[string]mount  // Pod volume -> source
	termination map[string]string // container -> host file of its termination message
}

func (r *podRun) run(t *testing.T, id string) map[string]string {
	t.Helper()
	sc := r.pod.Spec.SecurityContext
	fsGroup := ""
	if sc.FSGroup != nil {
		fsGroup = strconv.FormatInt(*sc.FSGroup, 10)
	}
	r.volumes = map[string]mount{}
	for _, v := range r.pod.Spec.Volumes {
		switch {
		case v.EmptyDir != nil:
			r.volumes[v.Name] = mount{Volume: r.docker.volume(t, id+"-"+v.Name, r.busybox, fsGroup)}
		case v.PersistentVolumeClaim != nil:
			vol, ok := r.claims[v.PersistentVolumeClaim.ClaimName]
			if !ok {
				t.Fatalf("pod volume %s: no volume for claim %s", v.Name, v.PersistentVolumeClaim.ClaimName)
			}
			r.volumes[v.Name] = mount{Volume: vol}
		case v.Secret != nil:
			dir, ok := r.secrets[v.Secret.SecretName]
			if !ok {
				t.Fatalf("pod volume %s: no secret %s", v.Name, v.Secret.SecretName)
			}
			r.volumes[v.Name] = mount{HostPath: dir, ReadOnly: true}
		default:
			t.Fatalf("pod volume %s: unsupported source", v.Name)
		}
	}
	logs := map[string]string{}
	all := append(append([]podContainer{}, r.pod.Spec.InitContainers...), r.pod.Spec.Containers...)
	for i, c := range all {
		out, code := dockerRun(t, fmt.Sprintf("%s-%s-%d-%s", r.docker.prefix, id, i, c.Name), r.container(t, c, fsGroup))
		logs[c.Name] = out
		if code != 0 {
			t.Fatalf("pod %s: container %s exited %d\n%s", r.pod.Metadata.Name, c.Name, code, out)
		}
	}
	return logs
}

// container is c as the kubelet starts it: the user of its security
// context (or the Pod's), fsGroup as a supplementary group, its env, its
// volume mounts, and its termination message file.
func (r *podRun) container(t *testing.T, c podContainer, fsGroup string) container {
	t.Helper()
	sc := r.pod.Spec.SecurityContext
	uid, gid, nonRoot := sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot
	if c.SecurityContext != nil {
		if c.SecurityContext.RunAsUser != nil {
			uid = c.SecurityContext.RunAsUser
		}
		if c.SecurityContext.RunAsGroup != nil {
			gid = c.SecurityContext.RunAsGroup
		}
		if c.SecurityContext.RunAsNonRoot != nil {
			nonRoot = c.SecurityContext.RunAsNonRoot
		}
	}
	if nonRoot != nil && *nonRoot {
		// The kubelet refuses to start a container that would run as root.
		user := ""
		if uid != nil {
			user = strconv.FormatInt(*uid, 10)
		} else {
			img, err := remote.Image(mustRef(t, c.Image))
			must(t, err)
			cf, err := img.ConfigFile()
			must(t, err)
			user = cf.Config.User
		}
		if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
			t.Fatalf("container %s: runAsNonRoot, but it would run as user %q", c.Name, user)
		}
	}
	out := container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir}
	if csc := c.SecurityContext; csc != nil {
		if csc.Capabilities != nil {
			if len(csc.Capabilities.Add) > 0 {
				t.Fatalf("container %s: capabilities.add is not supported", c.Name)
			}
			out.CapDrop = csc.Capabilities.Drop
		}
		out.NoNewPrivileges = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
	}
	if uid != nil {
		out.User = strconv.FormatInt(*uid, 10)
		if gid != nil {
			out.User += ":" + strconv.FormatInt(*gid, 10)
		}
	}
	if fsGroup != "" {
		out.GroupAdd = []string{fsGroup}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("container %s: env %s has valueFrom, which the runner does not support", c.Name, e.Name)
		}
		if e.Name != "" {
			out.Env = append(out.Env, e.Name+"="+e.Value)
		}
	}
	for _, vm := range c.VolumeMounts {
		m, ok := r.volumes[vm.Name]
		if !ok {
			t.Fatalf("container %s: no volume %s", c.Name, vm.Name)
		}
		m.Target, m.SubPath, m.ReadOnly = vm.MountPath, vm.SubPath, vm.ReadOnly || m.ReadOnly
		out.Mounts = append(out.Mounts, m)
	}
	if c.TerminationMessagePath != "" {
		f := filepath.Join(t.TempDir(), "termination-log")
		must(t, os.WriteFile(f, nil, 0o666))
		must(t, os.Chmod(f, 0o666))
		r.termination[c.Name] = f
		out.Mounts = append(out.Mounts, mount{HostPath: f, Target: c.TerminationMessagePath})
	}
	return out
}

// readVolumeFile reads a file of a Pod volume (a Docker volume).
func (r *podRun) readVolumeFile(t *testing.T, volume, file string) string {
	t.Helper()
	m, ok := r.volumes[volume]
	if !ok || m.Volume == "" {
		t.Fatalf("no Docker volume for pod volume %s", volume)
	}
	out, code := dockerRun(t, m.Volume+"-read", container{Name: "read " + volume + "/" + file, Image: r.busybox, User: "0:0",
		Command: []string{"/bin/cat", "/v/" + file}, Mounts: []mount{{Volume: m.Volume, Target: "/v", ReadOnly: true}}})
	if code != 0 {
		t.Fatalf("reading %s from volume %s: exit %d\n%s", file, volume, code, out)
	}
	return out
}

// processImage is a linux/amd64 image of one of kpack's static binaries at
// /cnb/process/<name>, where kpack's Pod runs it, with /tmp, the host's CA
// bundle and a passwd for the CNB user.
func processImage(t *testing.T, bin, name string) v1.Image {
	t.Helper()
	data, err := os.ReadFile(bin)
	must(t, err)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.Size = int64(len(body))
		must(t, tw.WriteHeader(h))
		_, err := tw.Write(body)
		must(t, err)
	}
	for _, d := range []string{"cnb", "cnb/process", "etc", "etc/ssl", "etc/ssl/certs"} {
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}))
	}
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "cnb/process/" + name, Mode: 0o755}, data)
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644}, []byte("root:x:0:0:root:/root:/sbin/nologin\ncnb:x:1000:1000:cnb:/home/cnb:/sbin/nologin\n"))
	if ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644}, ca)
	}
	must(t, tw.Close())
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()), tarball.WithMediaType(types.OCILayer))
	must(t, err)
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	must(t, err)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = []string{"/cnb/process/" + name}
	cf.Config.Env = []string{"PATH=/cnb/process"}
	cf.Config.User = "1000:1000" // kpack's images run as non-root
	img, err = mutate.ConfigFile(img, cf)
	must(t, err)
	if strings.Contains(name, "/") {
		t.Fatalf("bad name %s", name)
	}
	return img
}
