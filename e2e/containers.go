//go:build e2e && (kpack || tekton)

package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/platform"
)

// mount is a volume mount of a container: a Docker volume (a Pod's emptyDir
// or PersistentVolumeClaim) or a host path bind-mounted (a Secret's files,
// the termination message file, a Tekton workspace).
type mount struct {
	Volume, HostPath string
	Target           string
	SubPath          string
	ReadOnly         bool
}

// container is one container or step as Kubernetes would start it: the
// image's entrypoint replaced by Command when set, Args as the command line.
type container struct {
	Name       string
	Image      string
	Command    []string
	Args       []string
	Env        []string // NAME=value
	WorkingDir string
	User       string // uid:gid, "" for the image's
	GroupAdd   []string
	Mounts     []mount
	// CapDrop and NoNewPrivileges are a security context's
	// capabilities.drop and allowPrivilegeEscalation: false.
	CapDrop         []string
	NoNewPrivileges bool
}

// dockerArgs is the `docker run` command line that starts c on the host
// network (so 127.0.0.1 registries and servers are reachable).
func (c container) dockerArgs(name string) ([]string, error) {
	args := []string{"run", "--name", name, "--network", "host", "--pull", "missing"}
	if c.User != "" {
		args = append(args, "--user", c.User)
	}
	for _, g := range c.GroupAdd {
		args = append(args, "--group-add", g)
	}
	for _, cp := range c.CapDrop {
		args = append(args, "--cap-drop", cp)
	}
	if c.NoNewPrivileges {
		args = append(args, "--security-opt", "no-new-privileges")
	}
	if c.WorkingDir != "" {
		args = append(args, "--workdir", c.WorkingDir)
	}
	for _, e := range c.Env {
		args = append(args, "--env", e)
	}
	for _, m := range c.Mounts {
		if m.SubPath != "" {
			return nil, fmt.Errorf("container %s: subPath %q on %s is not supported", c.Name, m.SubPath, m.Target)
		}
		var spec string
		switch {
		case m.Volume != "":
			// Kubernetes does not copy the image's files into a volume.
			spec = "type=volume,src=" + m.Volume + ",dst=" + m.Target + ",volume-nocopy=true"
		case m.HostPath != "":
			spec = "type=bind,src=" + m.HostPath + ",dst=" + m.Target
		default:
			return nil, fmt.Errorf("container %s: mount %s has no source", c.Name, m.Target)
		}
		if m.ReadOnly {
			spec += ",readonly"
		}
		args = append(args, "--mount", spec)
	}
	var cmd []string
	if len(c.Command) > 0 {
		args = append(args, "--entrypoint", c.Command[0])
		cmd = c.Command[1:]
	}
	args = append(args, c.Image)
	args = append(args, cmd...)
	return append(args, c.Args...), nil
}

// dockerRun runs c to its end as container name, removes the container and
// returns its output and exit code.
func dockerRun(t *testing.T, name string, c container) (string, int) {
	t.Helper()
	args, err := c.dockerArgs(name)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := exec.Command("docker", args...).CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("docker run %s: %v", c.Name, err)
		}
		code = ee.ExitCode()
	}
	if rm, err := exec.Command("docker", "rm", "-f", name).CombinedOutput(); err != nil {
		t.Errorf("docker rm %s: %v\n%s", name, err, rm)
	}
	t.Logf("--- %s (%s, exit %d, %s)\n$ docker %s\n%s", c.Name, c.Image, code, time.Since(start).Round(time.Millisecond),
		strings.Join(args, " "), out)
	return string(out), code
}

// dockerObjects tracks what a test creates in the Docker Engine, all named
// with its prefix, and removes it at the end with every image pulled from
// the test's registry.
type dockerObjects struct {
	prefix   string
	registry string
	volumes  []string
}

func newDockerObjects(t *testing.T, prefix, registry string) *dockerObjects {
	d := &dockerObjects{prefix: fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()), registry: registry}
	t.Cleanup(func() { d.cleanup(t) })
	return d
}

// volume creates a Docker volume for a Pod volume: an emptyDir (or the
// cache claim) is mode 2777 and group fsGroup as the kubelet makes it. It
// runs image (any image with a busybox) as root to set that.
func (d *dockerObjects) volume(t *testing.T, name, image string, fsGroup string) string {
	t.Helper()
	v := d.prefix + "-" + name
	if out, err := exec.Command("docker", "volume", "create", v).CombinedOutput(); err != nil {
		t.Fatalf("docker volume create %s: %v\n%s", v, err, out)
	}
	d.volumes = append(d.volumes, v)
	script := "chmod 0777 /v"
	if fsGroup != "" {
		script = "chown 0:" + fsGroup + " /v && chmod 2777 /v"
	}
	out, code := dockerRun(t, v+"-init", container{Name: "volume " + name, Image: image, User: "0:0",
		Command: []string{"/bin/sh", "-c", script}, Mounts: []mount{{Volume: v, Target: "/v"}}})
	if code != 0 {
		t.Fatalf("initialising volume %s: exit %d\n%s", v, code, out)
	}
	return v
}

func (d *dockerObjects) cleanup(t *testing.T) {
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "name="+d.prefix).Output()
	if err == nil && len(strings.Fields(string(out))) > 0 {
		if o, err := exec.Command("docker", append([]string{"rm", "-f"}, strings.Fields(string(out))...)...).CombinedOutput(); err != nil {
			t.Errorf("cleanup: docker rm: %v\n%s", err, o)
		}
	}
	if len(d.volumes) > 0 {
		if o, err := exec.Command("docker", append([]string{"volume", "rm", "-f"}, d.volumes...)...).CombinedOutput(); err != nil {
			t.Errorf("cleanup: docker volume rm: %v\n%s", err, o)
		}
	}
	out, err = exec.Command("docker", "image", "ls", "--no-trunc", "--format", "{{.Repository}} {{.ID}}").Output()
	if err != nil {
		t.Errorf("cleanup: docker image ls: %v", err)
		return
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if repo, id, ok := strings.Cut(line, " "); ok && strings.HasPrefix(repo, d.registry+"/") {
			ids[id] = true
		}
	}
	var rm []string
	for id := range ids {
		rm = append(rm, id)
	}
	if len(rm) > 0 {
		if o, err := exec.Command("docker", append([]string{"image", "rm", "-f"}, rm...)...).CombinedOutput(); err != nil {
			t.Errorf("cleanup: docker image rm: %v\n%s", err, o)
		}
	}
	t.Logf("cleanup: removed volumes %v and %d image(s) of %s", d.volumes, len(rm), d.registry)
}

// checkArtifacts checks that repo:latest is the image of digest and that
// each artifact of the report is in the registry with the app image as
// its subject.
func checkArtifacts(t *testing.T, repo, digest string, rep platform.Report) {
	t.Helper()
	desc, err := remote.Head(mustRef(t, repo+":latest"))
	if err != nil {
		t.Fatalf("the app image is not in the registry: %v", err)
	}
	if desc.Digest.String() != digest {
		t.Errorf("%s:latest is %s, want %s", repo, desc.Digest, digest)
	}
	seen := map[string]bool{}
	for _, a := range rep.Artifacts {
		want, ok := wantArtifacts[a.Tag]
		if !ok || seen[a.Tag] {
			t.Errorf("unexpected artifact in report.toml: %+v", a)
			continue
		}
		seen[a.Tag] = true
		if a.Buildpack != want.buildpack || a.Type != want.typ || a.Skipped != "" || len(a.Refs) != 1 {
			t.Errorf("artifact %s: %+v, want %s %s with one ref", a.Tag, a, want.buildpack, want.typ)
			continue
		}
		got, err := remote.Get(mustRef(t, repo+":"+a.Tag))
		if err != nil {
			t.Errorf("artifact %s: tag not in the registry: %v", a.Tag, err)
			continue
		}
		if !strings.HasSuffix(a.Refs[0], "@"+got.Digest.String()) {
			t.Errorf("artifact %s: registry has %s, report.toml says %s", a.Tag, got.Digest, a.Refs[0])
		}
		var m v1.Manifest
		if err := json.Unmarshal(got.Manifest, &m); err != nil {
			t.Errorf("artifact %s: %v", a.Tag, err)
			continue
		}
		if m.Subject == nil || m.Subject.Digest.String() != digest {
			t.Errorf("artifact %s: subject %v, want the app image %s", a.Tag, m.Subject, digest)
		}
	}
	if len(seen) != len(wantArtifacts) {
		t.Errorf("report.toml lists %d of the %d artifacts: %v", len(seen), len(wantArtifacts), seen)
	}
}

// remoteDigestRef pins a tag to the digest the registry has for it.
func remoteDigestRef(tag string) (string, error) {
	r, err := name.ParseReference(tag)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(r)
	if err != nil {
		return "", err
	}
	return r.Context().Name() + "@" + desc.Digest.String(), nil
}
