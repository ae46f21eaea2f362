package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// caseSign measures what signing adds to an export with three 1 MiB
// artifacts: the same export with CNB_ARTIFACTS_SIGNING_KEY set ("on":
// four signatures, the app image's and one per artifact) and unset
// ("off"), each run to a new repository, through the counting proxy. Two
// keys: cosign's encrypted key (its scrypt derivation, decrypted while the
// export works on its layers) and an unencrypted PEM key (the signing
// alone). Target: added time under 5 % of the export (issue 21).
func (b *bench) caseSign(runs int) []caseResult {
	p, err := harness.StartCountingProxy(b.regHost)
	if err != nil {
		b.t.Fatalf("proxy: %v", err)
	}
	defer p.Close()
	dir := b.t.TempDir()
	plain, _, err := harness.WriteSigningKey(dir)
	if err != nil {
		b.t.Fatalf("key: %v", err)
	}
	encrypted, _ := harness.CosignKeyPair(b.t, "bench-password")
	pass := filepath.Join(dir, "password")
	if err := os.WriteFile(pass, []byte("bench-password\n"), 0o600); err != nil {
		b.t.Fatalf("password: %v", err)
	}
	files, _ := artifactFiles(3, 1<<20)
	var out []caseResult
	for _, v := range []struct {
		label string
		env   []string
	}{
		{"cosign key (encrypted)", []string{platform.EnvSigningKey + "=" + encrypted, platform.EnvSigningPasswordFile + "=" + pass}},
		{"unencrypted key", []string{platform.EnvSigningKey + "=" + plain}},
	} {
		c := newCase("signing on vs off, 3 x 1 MiB, "+v.label, "added time (on minus off)", "export without a key", "on", "off")
		requests := map[string][]int{}
		var fns []func(int)
		for _, side := range []string{"on", "off"} {
			env := []string(nil)
			if side == "on" {
				env = v.env
			}
			fns = append(fns, func(i int) {
				w := b.workspace(files) // fresh: no digest cache, nothing in the repository
				p.Reset()
				s := b.must(b.exportEnv(w, env, fmt.Sprintf("%s/sign-%s-%s-%d:latest", p.Host, strings.Fields(v.label)[0], side, i)))
				if strings.Contains(s.Output, "*** Signatures:") != (side == "on") {
					b.t.Fatalf("signing %s: the log's signatures do not say so:\n%s", side, tail(s.Output, 4000))
				}
				c.record(side, s)
				requests[side] = append(requests[side], len(p.Requests()))
				os.RemoveAll(w.Dir)
			})
		}
		alternate(runs, fns...)
		c.finish("on")
		c.ratioTarget(c.Medians["on"]-c.Medians["off"], c.Medians["off"], 0.05)
		c.Extra["requests"] = requests
		c.Extra["added_requests"] = medianInt(requests["on"]) - medianInt(requests["off"])
		fmt.Printf("  requests per export: on %v, off %v; added %d (4 signatures)\n", requests["on"], requests["off"], medianInt(requests["on"])-medianInt(requests["off"]))
		out = append(out, *c)
	}
	return out
}
