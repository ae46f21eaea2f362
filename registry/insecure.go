package registry

import (
	"crypto/tls"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// The insecure rule, as lifecycle and imgutil apply CNB_INSECURE_REGISTRIES
// (lifecycle's image.GetInsecureOptions, imgutil's remote.WithRegistrySetting):
// a name is insecure when one of the listed entries is a prefix of it
// (imgutil's getRegistrySetting); an insecure name is parsed with
// name.Insecure, so that go-containerregistry's ping tries https and then
// plain http and every request uses the scheme that answered
// (imgutil's referenceForRepoName), and its connections skip TLS
// verification (imgutil.GetTransport). The rule is the same for every form
// of registry name: an IP, localhost, or a host name like kind-registry:5000
// (which, unlike the first two, go-containerregistry would otherwise reach
// over https only). Every name the exporter and the client parse goes
// through NameOptions, reads and writes alike.

// Insecure reports whether ref (an image, repository or registry name as
// given) names an insecure registry: an entry of list is a prefix of it or
// of its registry.
func Insecure(ref string, list []string) bool {
	reg := ref
	if r, err := name.ParseReference(ref, name.WeakValidation); err == nil {
		reg = r.Context().RegistryStr()
	} else if repo, err := name.NewRepository(ref, name.WeakValidation); err == nil {
		reg = repo.RegistryStr()
	}
	for _, e := range list {
		e = strings.TrimSpace(e)
		if e != "" && (strings.HasPrefix(ref, e) || strings.HasPrefix(reg, e)) {
			return true
		}
	}
	return false
}

// NameOptions are the options to parse ref with: weak validation, as
// lifecycle parses names, and name.Insecure where the insecure rule says so.
func NameOptions(ref string, insecure []string) []name.Option {
	opts := []name.Option{name.WeakValidation}
	if Insecure(ref, insecure) {
		opts = append(opts, name.Insecure)
	}
	return opts
}

// insecureRegistry returns reg marked insecure (scheme by ping, http
// allowed) when the rule says so, whatever options it was parsed with.
func insecureRegistry(reg name.Registry, list []string) (name.Registry, bool) {
	if !Insecure(reg.RegistryStr(), list) {
		return reg, false
	}
	r, err := name.NewRegistry(reg.RegistryStr(), name.WeakValidation, name.Insecure)
	if err != nil {
		return reg, true
	}
	return r, true
}

// baseTransport is the connection layer: TLS verification off for insecure
// registries (as imgutil does), and, for every request (the ping and the
// token exchange too), a deadline that moves while bytes move
// (stallTransport), so that a stalled registry is an error the retry policy
// sees rather than a hang.
func baseTransport(insecure bool, timeout time.Duration, dial dialFunc) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // #nosec G402 -- the platform asked for it
	}
	if dial != nil {
		t.DialContext = dial
	}
	if timeout <= 0 {
		return t
	}
	return stallTransport{next: t, timeout: timeout}
}
