package main

import "golang.org/x/sys/unix"

// hideFromUser makes this process non-dumpable, so that no other process of
// its user can read its environment or memory (/proc/<pid>/environ, mem,
// ptrace), whatever user it runs as: the creator's environment holds the
// registry credentials (CNB_REGISTRY_AUTH), and when the creator runs as the
// CNB user itself, buildpacks run as that user too. Dropping privileges with
// setuid has the same effect; this covers the case where there is nothing to
// drop. Children do not inherit it: see platform.UserPhaseEnv for theirs.
func hideFromUser() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
