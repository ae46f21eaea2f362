//go:build acceptance

package acceptance_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// scanScript is prepended to a buildpack's bin/detect and bin/build: it
// copies every /proc/*/environ its user can read, and its own environment,
// into dump, and records which processes it could read (by command line).
// The buildpack runs as the CNB user, as any buildpack does.
func scanScript(dump string) string {
	return fmt.Sprintf(`#!/bin/sh
dump=%q
for f in /proc/[0-9]*/environ; do
	if cat "$f" >>"$dump.env" 2>/dev/null; then
		pid=${f#/proc/}; pid=${pid%%/environ}
		printf '%%s %%s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >>"$dump.read"
	fi
done
env >>"$dump.env"
printf 'parent %%s %%s\n' "$PPID" "$(tr '\0' ' ' <"/proc/$PPID/cmdline" 2>/dev/null)" >>"$dump.read"
`, dump)
}

// fileScanScript is appended to scanScript when the build has a signing
// key: it searches every file its user can read under dirs for each of
// secrets (grep -rlF, bounded to fileScanTimeout) and appends the names of
// the files that hold one to dump.found, and grep's exit code to
// dump.grep (0: found, the control at least; 1: nothing; 2: some file or
// directory unreadable; 124: timed out). The secrets are split in the
// script's text, so the script itself (a file the scan reads) does not
// hold them; grep reads them from dump.patterns (listed in dump.found as
// it holds them; removed after), not from its command line, which other
// processes of the CNB user on this machine could read.
func fileScanScript(dump string, secrets, dirs []string) string {
	var pats strings.Builder
	for _, s := range secrets {
		h := len(s) / 2
		fmt.Fprintf(&pats, "printf '%%s%%s\\n' '%s' '%s' >>\"$dump.patterns\"\n", s[:h], s[h:])
	}
	var where strings.Builder
	for _, d := range dirs {
		fmt.Fprintf(&where, " '%s'", d)
	}
	return fmt.Sprintf(`dump=%q
: >"$dump.patterns"
%stimeout %d grep -rlF -f "$dump.patterns"%s >>"$dump.found" 2>/dev/null
echo $? >>"$dump.grep"
rm -f "$dump.patterns"
`, dump, pats.String(), int(fileScanTimeout/time.Second), where.String())
}

// randomHex is 16 random hex digits.
func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// fileScanTimeout bounds each file search of fileScanScript.
const fileScanTimeout = 120 * time.Second

// No credential reaches a buildpack: with CNB_REGISTRY_AUTH set for the
// creator, a buildpack that reads every process environment its user can
// read, in detect and in build, finds no trace of it. Our creator runs
// upstream's detect and build as child processes of the CNB user, whose
// environments the buildpack can read (the test checks it did read its
// parent's); the stock creator, the baseline, runs them in its own process
// after dropping privileges.
//
// The creator is also given a signing key (CNB_ARTIFACTS_SIGNING_KEY and
// CNB_ARTIFACTS_SIGNING_PASSWORD_FILE, issue 21): an encrypted cosign key
// and its password file, root-owned, mode 0600, in a directory the CNB user
// can list, under a name that is itself a canary. The buildpack also
// searches every file it can read where the build writes or the key lies
// (the workspace, /tmp, /var/tmp, /dev/shm, /run, /etc: the whole file
// system takes minutes here) for the password, a line of the key's
// ciphertext and the variables' values, and its environment scan for the
// variables; none is found. Our creator signs the image with that key
// (report.toml has [image-signature]); the stock creator ignores the
// variables, and only the absence is checked for it.
func TestNoCredentialReachesBuildpacks(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	secret := "canary-" + strings.Repeat("s3cr3t", 4)
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
	auth := fmt.Sprintf(`CNB_REGISTRY_AUTH={%q:"Basic %s"}`, reg.Host, basic)

	// The signing key: its password, a line of its ciphertext and the
	// paths the variables hold are the canaries.
	// Canaries random per run: another test on this machine may search
	// the same directories.
	password := "canary-pw-" + randomHex(t)
	priv, _ := harness.CosignKeyPair(t, password)
	key, err := os.ReadFile(priv)
	must(t, err)
	keyLine := harness.CosignKeyCanary(t, key)
	keyDir, err := os.MkdirTemp("", "cnb-signing-canary-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(keyDir) })
	// Listable, so the file search reaches the files: only their modes
	// protect them.
	must(t, os.Chmod(keyDir, 0o755))
	keyPath, passPath := filepath.Join(keyDir, "cosign.key"), filepath.Join(keyDir, "password")
	must(t, os.WriteFile(keyPath, key, 0o600))
	must(t, os.WriteFile(passPath, []byte(password), 0o600))
	for _, p := range []string{keyPath, passPath} {
		must(t, os.Chown(p, 0, 0))
		must(t, os.Chmod(p, 0o600))
	}
	signingEnv := []string{"CNB_ARTIFACTS_SIGNING_KEY=" + keyPath, "CNB_ARTIFACTS_SIGNING_PASSWORD_FILE=" + passPath}
	keySecrets := []string{password, keyLine, keyPath, passPath}
	for _, stock := range []bool{true, false} {
		t.Run(map[bool]string{true: "stock creator", false: "our creator"}[stock], func(t *testing.T) {
			b := fixture.NewBuild(t, run, fixture.Plain())
			control, controlCanary := filepath.Join(b.Dir, "control"), "control-canary-"+randomHex(t)
			bin := filepath.Join(b.Buildpacks, "examples_node", "1.0.0", "bin")
			for _, phase := range []string{"detect", "build"} {
				p := filepath.Join(bin, phase)
				orig, err := os.ReadFile(p)
				must(t, err)
				body := strings.TrimPrefix(string(orig), "#!/bin/sh\n")
				dump := filepath.Join(b.Dir, "scan-"+phase)
				// The control: a file the CNB user can read, holding a
				// canary of its own, that the search must find.
				must(t, os.WriteFile(control, []byte("x "+controlCanary+" x\n"), 0o644))
				dirs := []string{b.Dir, os.TempDir(), "/tmp", "/var/tmp", "/dev/shm", "/run", "/etc"}
				must(t, os.WriteFile(p, []byte(scanScript(dump)+fileScanScript(dump, append([]string{controlCanary}, keySecrets...), dirs)+body), 0o755))
			}
			out, code := create(t, b, stock, "0.13", append([]string{auth}, signingEnv...), reg.Host+"/app:latest")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			if strings.Contains(out, secret) || strings.Contains(out, basic) {
				t.Fatalf("the output holds the credential:\n%s", out)
			}
			if strings.Contains(out, password) || strings.Contains(out, keyLine) {
				t.Fatalf("the output holds the signing key or its password:\n%s", out)
			}
			if !stock && harness.Ours() {
				rep := readReport(t, b.Report)
				if rep.ImageSignature == nil || rep.ImageSignature.Signed != rep.Image.Digest {
					t.Fatalf("our creator did not sign the image with the key it was given: [image-signature] %+v, image %s\n%s", rep.ImageSignature, rep.Image.Digest, out)
				}
			}
			for _, phase := range []string{"detect", "build"} {
				env, err := os.ReadFile(filepath.Join(b.Dir, "scan-"+phase+".env"))
				must(t, err)
				read, err := os.ReadFile(filepath.Join(b.Dir, "scan-"+phase+".read"))
				must(t, err)
				if !strings.Contains(string(env), "CNB_") && phase == "build" {
					t.Fatalf("%s: the scan read no environment at all (it sees at least its own)\n%s", phase, read)
				}
				if strings.Contains(string(env), basic) || strings.Contains(string(env), "CNB_REGISTRY_AUTH") {
					t.Fatalf("%s: a buildpack read the credential from a process environment; processes read:\n%s", phase, read)
				}
				for _, s := range append([]string{"CNB_ARTIFACTS_SIGNING"}, keySecrets...) {
					if strings.Contains(string(env), s) {
						t.Fatalf("%s: a buildpack read the signing key's variables or secrets (%.20s…) from a process environment; processes read:\n%s", phase, s, read)
					}
				}
				found, err := os.ReadFile(filepath.Join(b.Dir, "scan-"+phase+".found"))
				must(t, err)
				var leaked []string
				sawControl := false
				for _, f := range strings.Fields(string(found)) {
					switch f {
					case control:
						sawControl = true
					case filepath.Join(b.Dir, "scan-"+phase+".patterns"):
						// the search's own patterns, removed after it
					default:
						leaked = append(leaked, f)
					}
				}
				if len(leaked) > 0 {
					t.Fatalf("%s: a buildpack found the signing key, its password or their paths in files it can read: %q", phase, leaked)
				}
				if !sawControl {
					t.Fatalf("%s: the file search did not find its control file %s (it found %q): it did not search", phase, control, found)
				}
				grepCode, err := os.ReadFile(filepath.Join(b.Dir, "scan-"+phase+".grep"))
				must(t, err)
				// 0: found (the control); 2: some file or directory could not
				// be read (the key's, among others), which is the point.
				if c := strings.TrimSpace(string(grepCode)); c != "0" && c != "1" && c != "2" {
					t.Fatalf("%s: the file search did not complete (grep exit %s; 124 is a timeout after %s)", phase, c, fileScanTimeout)
				}
				// Our creator's phases are child processes of the CNB user:
				// the buildpack can read its parent's environment, the one
				// that used to carry the credential. (This checks our
				// creator's structure: another creator, judged by a
				// conformance run, may run its phases in process.)
				if !stock && harness.Ours() && !strings.Contains(string(read), "lifecycle "+phase) {
					t.Fatalf("%s: the scan did not read the environment of upstream's %s process; read:\n%s", phase, phase, read)
				}
				t.Logf("%s: processes whose environment the buildpack read:\n%s", phase, read)
			}
		})
	}
}
