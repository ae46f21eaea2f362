package main

import (
	"slices"
	"testing"

	lplatform "github.com/buildpacks/lifecycle/platform"

	"github.com/cnb-artifacts/lifecycle/platform"
)

// The decisions every command reads are taken once from the inputs: the
// target kind (layout before daemon, as upstream's export switch), the
// policy, and an invalid input refused.
func TestNewSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		in         *lplatform.LifecycleInputs
		env        map[string]string
		kind       targetKind
		on, effort bool
		wantErr    bool
	}{
		{"registry by default", &lplatform.LifecycleInputs{}, nil, kindRegistry, true, false, false},
		{"reattach has no inputs: a registry", nil, nil, kindRegistry, true, false, false},
		{"daemon", &lplatform.LifecycleInputs{UseDaemon: true}, nil, kindDaemon, true, false, false},
		{"layout wins over daemon", &lplatform.LifecycleInputs{UseDaemon: true, UseLayout: true}, nil, kindLayout, true, false, false},
		{"policy off", &lplatform.LifecycleInputs{}, map[string]string{platform.EnvPolicy: "off"}, kindRegistry, false, false, false},
		{"policy best-effort", &lplatform.LifecycleInputs{}, map[string]string{platform.EnvPolicy: "best-effort"}, kindRegistry, true, true, false},
		{"bad policy", &lplatform.LifecycleInputs{}, map[string]string{platform.EnvPolicy: "sometimes"}, "", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSettings(tc.in, []string{"reg.local:5000"}, func(k string) string { return tc.env[k] })
			if tc.wantErr {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.kind != tc.kind || s.artifactsOn() != tc.on || s.bestEffort() != tc.effort {
				t.Fatalf("kind %s on %v best-effort %v, want %s %v %v", s.kind, s.artifactsOn(), s.bestEffort(), tc.kind, tc.on, tc.effort)
			}
			ref, err := s.parse("reg.local:5000/app:latest")
			if err != nil || ref.Context().Scheme() != "http" || !slices.Contains(s.clientOptions(nil).Insecure, "reg.local:5000") {
				t.Fatalf("an insecure registry's name: %v %v", ref, err)
			}
		})
	}
}

func TestInsecureFromEnv(t *testing.T) {
	t.Parallel()
	got := insecureFromEnv([]string{"a:1"}, func(k string) string {
		if k == lplatform.EnvInsecureRegistries {
			return "b:2,c:3"
		}
		return ""
	})
	if len(got) != 3 || got[0] != "a:1" || got[2] != "c:3" {
		t.Fatalf("got %v", got)
	}
}
