package main

import (
	"bytes"
	"crypto/elliptic"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildpacks/lifecycle/log"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/signing"
)

// The creator refuses a key file the build user can read: by its owner,
// its group, or anyone (the other bits).
func TestNotReadableBy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	for _, tc := range []struct {
		name    string
		mode    os.FileMode
		asUID   int
		asGID   int
		refused bool
	}{
		{name: "0600, another user's", mode: 0o600, asUID: uid + 1000, asGID: gid + 1000},
		{name: "0640, another group", mode: 0o640, asUID: uid + 1000, asGID: gid + 1000},
		{name: "0644: anyone", mode: 0o644, asUID: uid + 1000, asGID: gid + 1000, refused: true},
		{name: "0640, the build user's group", mode: 0o640, asUID: uid + 1000, asGID: gid, refused: true},
		{name: "0600, the build user's own", mode: 0o600, asUID: uid, asGID: gid + 1000, refused: true},
		{name: "0200, the build user's own, unreadable", mode: 0o200, asUID: uid, asGID: gid + 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, []byte("k"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			err := notReadableBy(p, tc.asUID, tc.asGID)
			if (err != nil) != tc.refused {
				t.Fatalf("err = %v, refused = %v", err, tc.refused)
			}
			if err != nil && (!errors.Is(err, signing.ErrKey) || !strings.Contains(err.Error(), "readable by the build user")) {
				t.Fatalf("err = %v, want ErrKey saying why", err)
			}
		})
	}
	if err := notReadableBy("", 1000, 1000); err != nil {
		t.Fatalf("no file: %v", err)
	}
	if err := notReadableBy(filepath.Join(dir, "absent"), 1000, 1000); err == nil {
		t.Fatal("a missing key passed")
	}
}

// Under policy off the key is not read (off is stock) and a warning says
// it is ignored; unset, nothing happens.
func TestLoadSignerPolicy(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	logger := log.NewDefaultLogger(&out)
	s := settings{ArtifactInputs: platform.ArtifactInputs{Policy: platform.PolicyOff, SigningKey: "/nonexistent/cosign.key"}}
	if err := s.loadSigner(logger, nil); err != nil || s.signer != nil {
		t.Fatalf("off: err %v, signer %v", err, s.signer)
	}
	if !strings.Contains(out.String(), "Not signing") {
		t.Fatalf("off: no warning:\n%s", out.String())
	}
	s = settings{ArtifactInputs: platform.ArtifactInputs{Policy: platform.PolicyRequired, SigningKey: "/nonexistent/cosign.key"}}
	if err := s.loadSigner(logger, nil); err == nil || s.signer != nil {
		t.Fatalf("required, missing key: err %v, signer %v", err, s.signer)
	}
	s = settings{ArtifactInputs: platform.ArtifactInputs{Policy: platform.PolicyRequired}}
	if err := s.loadSigner(logger, nil); err != nil || s.signer != nil {
		t.Fatalf("unset: err %v, signer %v", err, s.signer)
	}
}

// writeTestKey writes an unencrypted ECDSA P-256 key, mode 0600, owned by
// this process's user (harness.WriteSigningKey), and returns its path.
func writeTestKey(t *testing.T) string {
	t.Helper()
	p, _, err := harness.WriteSigningKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// What loadSigner reads when: a key only root can read loads for a creator
// whose build user is another (the check passes); a key anyone can read
// loads for a command that runs no buildpack, not for one that shares its
// container with a build user; a wrong password is found
// at once for a daemon export (nothing waits for the key there) and, for a
// registry export, when the transaction waits for the key before its first
// write (Ready).
func TestLoadSignerWhen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, _, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), func(bool) ([]byte, error) { return []byte("right"), nil })
	if err != nil {
		t.Fatal(err)
	}
	key, wrong, right := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "wrong"), filepath.Join(dir, "right")
	for p, b := range map[string][]byte{key: priv, wrong: []byte("wrong\n"), right: []byte("right\n")} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logger := log.NewDefaultLogger(io.Discard)
	in := func(pass string) platform.ArtifactInputs {
		return platform.ArtifactInputs{Policy: platform.PolicyRequired, SigningKey: key, SigningPasswordFile: pass}
	}

	s := settings{kind: kindRegistry, ArtifactInputs: in(right)}
	if err := s.loadSigner(logger, &buildUser{uid: os.Getuid() + 1000, gid: os.Getgid() + 1000}); err != nil || s.signer == nil {
		t.Fatalf("a key only its owner reads, another build user: err %v, signer %v", err, s.signer)
	}
	// The exporter, the rebaser and reattach share their container with no
	// buildpack (nil): a key anyone can read is theirs to use.
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	s = settings{kind: kindRegistry, ArtifactInputs: in(right)}
	if err := s.loadSigner(logger, nil); err != nil || s.signer == nil {
		t.Fatalf("a key anyone reads, no build user: err %v, signer %v", err, s.signer)
	}
	s = settings{kind: kindRegistry, ArtifactInputs: in(right)}
	if err := s.loadSigner(logger, &buildUser{uid: os.Getuid() + 1000, gid: os.Getgid() + 1000}); err == nil {
		t.Fatal("a key anyone reads, another build user: loaded")
	}
	s = settings{kind: kindDaemon, ArtifactInputs: in(wrong)}
	if err := s.loadSigner(logger, nil); err == nil {
		t.Fatal("daemon: a wrong password passed")
	}
	s = settings{kind: kindRegistry, ArtifactInputs: in(wrong)}
	if err := s.loadSigner(logger, nil); err != nil || s.signer == nil {
		t.Fatalf("registry: the key is read now and decrypted later: err %v", err)
	}
	if err := signing.Ready(s.signer); !errors.Is(err, signing.ErrKey) {
		t.Fatalf("registry: Ready = %v, want the key's error", err)
	}
}
