package exporter

import (
	"strings"
	"testing"
	"time"

	"github.com/cnb-artifacts/lifecycle/platform"
)

// A transaction's defaults: anonymous credentials, a discarding logger, 4
// jobs and a 60 s timeout (spec 10).
func TestNewDefaults(t *testing.T) {
	t.Parallel()
	plan, err := NewPlan([]string{"127.0.0.1:5000/app:latest"}, nil, platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := New(plan)
	if err != nil {
		t.Fatal(err)
	}
	if tx.jobs != 4 || tx.timeout != 60*time.Second || tx.keychain == nil || tx.logger == nil {
		t.Fatalf("defaults: jobs %d, timeout %s, keychain %v, logger %v", tx.jobs, tx.timeout, tx.keychain, tx.logger)
	}
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

// Options are applied to the defaults once, then read: their order does
// not matter (the previous image is resolved with the insecure registries
// named after it).
func TestOptionsOrder(t *testing.T) {
	t.Parallel()
	plan, err := NewPlan([]string{"r.example/app:latest"}, nil, platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	prev := "r.example/app@sha256:" + strings.Repeat("a", 64)
	for _, opts := range [][]Option{
		{WithInsecureRegistries([]string{"r.example"}), WithPreviousImage(prev)},
		{WithPreviousImage(prev), WithInsecureRegistries([]string{"r.example"})},
	} {
		tx, err := New(plan, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if tx.previous == nil || tx.previous.Context().Scheme() != "http" {
			t.Errorf("previous image %v: want it reached without TLS, as its registry is insecure", tx.previous)
		}
	}
}
