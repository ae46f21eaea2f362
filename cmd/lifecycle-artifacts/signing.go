package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/buildpacks/lifecycle/cmd"
	"github.com/buildpacks/lifecycle/log"

	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/signing"
)

// loadSigner reads the signing key the settings name (docs/spec.md section
// 17) into s.signer, before privileges drop: the files may be readable by
// root alone. Under policy off nothing is signed (off is stock) and the key
// is not read. A key that cannot be used fails the command before any
// write, with the invalid-arguments code, as a bad input does.
//
// shared, when not nil (the creator), is the CNB user the command shares
// its container with while buildpacks run: a key or password file that user
// can read is refused, since every buildpack could read it. The exporter,
// the rebaser and reattach run no buildpack and pass nil.
func (s *settings) loadSigner(logger log.Logger, shared *buildUser) error {
	if s.SigningKey == "" {
		return nil
	}
	if !s.artifactsOn() {
		logger.Warnf("Not signing: %s is ignored under %s=%s", platform.EnvSigningKey, platform.EnvPolicy, platform.PolicyOff)
		return nil
	}
	if shared != nil && shared.uid >= 0 {
		for _, f := range []string{s.SigningKey, s.SigningPasswordFile} {
			if err := notReadableBy(f, shared.uid, shared.gid); err != nil {
				return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "load signing key")
			}
		}
	}
	// Read now; decrypted in the background, and waited for by the
	// transaction before its first write (a wrong password then fails it
	// with this same code: artifactsCode).
	k, err := signing.OpenKey(s.SigningKey, s.SigningPasswordFile)
	if err != nil {
		return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "load signing key")
	}
	if s.kind == kindDaemon {
		// Nothing is signed (the daemon target warns), but a key that
		// cannot be used is still an invalid input.
		if err := k.Ready(); err != nil {
			return cmd.FailErrCode(err, cmd.CodeForInvalidArgs, "load signing key")
		}
	}
	s.signer = k
	return nil
}

// buildUser is the user (and group) buildpacks run as.
type buildUser struct{ uid, gid int }

// notReadableBy refuses a file that the user uid (group gid) can read: its
// owner, its group, or anyone. "" is no file.
func notReadableBy(path string, uid, gid int) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w %s: %v", signing.ErrKey, path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	perm := fi.Mode().Perm()
	readable := perm&0o004 != 0 ||
		(int(st.Gid) == gid && perm&0o040 != 0) ||
		(int(st.Uid) == uid && perm&0o400 != 0)
	if readable {
		return fmt.Errorf("%w %s: readable by the build user %d:%d (mode %s, owner %d:%d), so every buildpack could read it; make it readable by root alone (chown 0:0, chmod 600)",
			signing.ErrKey, path, uid, gid, perm, st.Uid, st.Gid)
	}
	return nil
}
