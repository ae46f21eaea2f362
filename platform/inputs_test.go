package platform_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cnb-artifacts/lifecycle/platform"
)

func TestTagTemplate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		template, tag, imageTag, want, err string
	}{
		{template: "", tag: "wasm", imageTag: "latest", want: "wasm"},
		{template: "{tag}", tag: "wasm", imageTag: "latest", want: "wasm"},
		{template: "{image-tag}-{tag}", tag: "wasm", imageTag: "v1.2", want: "v1.2-wasm"},
		{template: "build.{image-tag}.{tag}", tag: "chart", imageTag: "latest", want: "build.latest.chart"},
		{template: "{image-tag}", err: "exactly once"},
		{template: "{tag}-{tag}", err: "exactly once"},
		{template: "{tag}{", err: "unbalanced"},
		{template: "{tag}}", err: "unbalanced"},
		{template: "{name}-{tag}", err: "unknown placeholder"},
		{template: "a/{tag}", err: "cannot appear"},
		{template: "{tag}:x", err: "cannot appear"},
		// Every literal character allowed, and each one just outside a range.
		{template: "az-AZ_09.{tag}", tag: "x", want: "az-AZ_09.x"},
		{template: "`{tag}", err: "cannot appear"},
		{template: "{tag}|", err: "cannot appear"},
		{template: "@{tag}", err: "cannot appear"},
		{template: "[{tag}", err: "cannot appear"},
		{template: "/{tag}", err: "cannot appear"},
		{template: "{tag}:", err: "cannot appear"},
		{template: "}{tag}", err: "unbalanced"},
	} {
		t.Run(tc.template, func(t *testing.T) {
			env := map[string]string{platform.EnvArtifactTagTemplate: tc.template}
			in, err := platform.ResolveArtifactInputs(func(k string) string { return env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), platform.EnvArtifactTagTemplate) {
					t.Fatalf("err = %v, want it to name %s and contain %q", err, platform.EnvArtifactTagTemplate, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := in.TagTemplate.Expand(tc.tag, tc.imageTag); got != tc.want {
				t.Fatalf("Expand = %q, want %q", got, tc.want)
			}
			want := tc.template
			if want == "" {
				want = platform.DefaultTagTemplate
			}
			if got := in.TagTemplate.String(); got != want {
				t.Fatalf("String = %q, want %q", got, want)
			}
		})
	}
}

// The zero template is the default one.
func TestTagTemplateZero(t *testing.T) {
	t.Parallel()
	var zero platform.TagTemplate
	if got := zero.String(); got != platform.DefaultTagTemplate {
		t.Fatalf("String = %q", got)
	}
	if got := zero.Expand("wasm", "latest"); got != "wasm" {
		t.Fatalf("Expand = %q", got)
	}
}

func FuzzParseTagTemplate(f *testing.F) {
	for _, s := range []string{"{tag}", "{image-tag}-{tag}", "x{tag}y", "{", "}", "{tag}{image-tag}{x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := platform.ParseTagTemplate(s)
		if err != nil {
			return
		}
		// A valid template maps distinct tags to distinct results.
		if tmpl.Expand("a", "t") == tmpl.Expand("b", "t") {
			t.Fatalf("template %q is not injective", s)
		}
	})
}

func TestRegistryTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want time.Duration
		err  bool
	}{
		{raw: "", want: time.Minute}, // spec 10's default
		{raw: "2s", want: 2 * time.Second},
		{raw: "1m30s", want: 90 * time.Second},
		{raw: "0s", err: true},
		{raw: "-1s", err: true},
		{raw: "10", err: true},
	} {
		env := map[string]string{platform.EnvRegistryTimeout: tc.raw}
		in, err := platform.ResolveArtifactInputs(func(k string) string { return env[k] })
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), platform.EnvRegistryTimeout) {
				t.Fatalf("%q: err = %v", tc.raw, err)
			}
			continue
		}
		if err != nil || in.RegistryTimeout != tc.want {
			t.Fatalf("%q: %v, %v", tc.raw, in.RegistryTimeout, err)
		}
	}
}

func TestPolicyInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want platform.Policy
		ok   bool
	}{
		{"", platform.PolicyRequired, true},
		{"required", platform.PolicyRequired, true},
		{"best-effort", platform.PolicyBestEffort, true},
		{"off", platform.PolicyOff, true},
		{"Off", "", false},
		{"besteffort", "", false},
	} {
		in, err := platform.ResolveArtifactInputs(func(k string) string {
			if k == platform.EnvPolicy {
				return tc.raw
			}
			return ""
		})
		if (err == nil) != tc.ok || (tc.ok && in.Policy != tc.want) {
			t.Errorf("%s=%q: %v, %v; want %q ok=%v", platform.EnvPolicy, tc.raw, in.Policy, err, tc.want, tc.ok)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), platform.EnvPolicy)) {
			t.Errorf("%s=%q: error %v does not name the input", platform.EnvPolicy, tc.raw, err)
		}
	}
}

func TestSBOMInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, mode, tag string
		want            platform.SBOMMode
		cdxTag, err     string
	}{
		{name: "unset is off", want: platform.SBOMOff},
		{name: "off", mode: "off", want: platform.SBOMOff},
		{name: "referrers, untagged", mode: "referrers", want: platform.SBOMReferrers},
		{name: "referrers, tagged", mode: "referrers", tag: "sbom-{format}", want: platform.SBOMReferrers, cdxTag: "sbom-cdx"},
		{name: "format first", mode: "referrers", tag: "{format}.sbom_1", want: platform.SBOMReferrers, cdxTag: "cdx.sbom_1"},
		{name: "unknown mode", mode: "layer", err: platform.EnvSBOM},
		{name: "case matters", mode: "Referrers", err: platform.EnvSBOM},
		{name: "no placeholder", mode: "referrers", tag: "sbom", err: "exactly once"},
		{name: "two placeholders", mode: "referrers", tag: "{format}-{format}", err: "exactly once"},
		{name: "bad character", mode: "referrers", tag: "sbom/{format}", err: "cannot appear"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{platform.EnvSBOM: tc.mode, platform.EnvSBOMTag: tc.tag}
			in, err := platform.ResolveArtifactInputs(func(k string) string { return env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.SBOM != tc.want {
				t.Fatalf("SBOM = %q, want %q", in.SBOM, tc.want)
			}
			if got := in.SBOMTagFor("cdx"); got != tc.cdxTag {
				t.Fatalf("SBOMTagFor(cdx) = %q, want %q", got, tc.cdxTag)
			}
		})
	}
}

func TestSigningInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, key, pass, err string
	}{
		{name: "unset signs nothing"},
		{name: "a key", key: "/signing/cosign.key"},
		{name: "a key and its password file", key: "/signing/cosign.key", pass: "/signing/password"},
		{name: "a password file alone", pass: "/signing/password", err: platform.EnvSigningKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{platform.EnvSigningKey: tc.key, platform.EnvSigningPasswordFile: tc.pass}
			in, err := platform.ResolveArtifactInputs(func(k string) string { return env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to name %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.SigningKey != tc.key || in.SigningPasswordFile != tc.pass {
				t.Fatalf("inputs = %q, %q", in.SigningKey, in.SigningPasswordFile)
			}
		})
	}
}
