# Build, tool and test entry points. `make test` runs every test.
#
# Versions have one source each: the lifecycle version is read from go.mod,
# each Go tool's version from its wrapper module tools/<name>/go.mod.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go

# --- versions ---------------------------------------------------------------

mod_version = $(patsubst v%,%,$(shell cd $(1) && $(GO) list -m -f '{{.Version}}' $(2)))

LIFECYCLE_VERSION := $(call mod_version,.,github.com/buildpacks/lifecycle)
ORAS_VERSION      := $(call mod_version,tools/oras,oras.land/oras)
HELM_VERSION      := $(call mod_version,tools/helm,helm.sh/helm/v3)
CRANE_VERSION     := $(call mod_version,tools/crane,github.com/google/go-containerregistry)
OLAREG_VERSION    := $(call mod_version,tools/olareg,github.com/olareg/olareg)
DISTRIBUTION_VERSION := $(call mod_version,tools/distribution,github.com/distribution/distribution/v3)
PACK_VERSION      := $(call mod_version,tools/pack,github.com/buildpacks/pack)
STATICCHECK_VERSION := $(call mod_version,tools/staticcheck,honnef.co/go/tools)
SYFT_VERSION      := $(call mod_version,hack/sbom,github.com/anchore/syft)
GREMLINS_VERSION  := $(call mod_version,tools/gremlins,github.com/go-gremlins/gremlins)
TRIVY_VERSION     := $(call mod_version,tools/trivy,github.com/aquasecurity/trivy)
COSIGN_VERSION    := $(call mod_version,tools/cosign,github.com/sigstore/cosign/v2)

# Debian packages: docker-registry is CNCF distribution 2.8 (/usr/bin/docker-registry).
APT_PACKAGES := docker-registry skopeo
APT_COMMANDS := docker-registry skopeo

# --- paths ------------------------------------------------------------------

OUT_DIR   := $(CURDIR)/out/lifecycle
TOOLS_BIN := $(CURDIR)/tools/bin
TOOLS     := oras helm crane olareg distribution trivy cosign

# Our binary is the exporter, the creator (which runs the stock phases
# before export) and the rebaser (upstream's rebase, then the artifacts);
# every other phase is upstream's lifecycle binary.
STOCK_PHASES := detector analyzer restorer builder extender
OUR_PHASES   := exporter creator rebaser

# --- build ------------------------------------------------------------------

# Upstream builds every binary static; the launcher must stay small.
LDFLAGS := -s -w -X github.com/buildpacks/lifecycle/cmd.Version=$(LIFECYCLE_VERSION)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
GOBUILD := CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD)
# Same flags as the builds above, so the generator reuses their cached packages.
GORUN   := CGO_ENABLED=0 $(GO) run $(GOFLAGS_BUILD)
LAUNCHER_MAX_MB := 3

# The binaries that get SBOMs, as upstream's release has them
# (<binary>.sbom.{cdx,spdx,syft}.json next to each), plus ours.
SBOM_BINARIES := lifecycle launcher lifecycle-artifacts
SBOM_GEN      := $(CURDIR)/out/sbom-gen

.PHONY: build
build: $(SBOM_GEN)
	@[ -n "$(LIFECYCLE_VERSION)" ] || { echo "cannot read the lifecycle version from go.mod" >&2; exit 1; }
	@echo "> Building lifecycle $(LIFECYCLE_VERSION) into $(OUT_DIR)"
	mkdir -p $(OUT_DIR)
	$(GOBUILD) -o $(OUT_DIR)/lifecycle github.com/buildpacks/lifecycle/cmd/lifecycle
	$(GOBUILD) -o $(OUT_DIR)/launcher github.com/buildpacks/lifecycle/cmd/launcher
	test $$(du -m $(OUT_DIR)/launcher | cut -f 1) -le $(LAUNCHER_MAX_MB)
	$(GOBUILD) -o $(OUT_DIR)/lifecycle-artifacts ./cmd/lifecycle-artifacts
	for p in $(STOCK_PHASES); do ln -sfn lifecycle $(OUT_DIR)/$$p; done
	for p in $(OUR_PHASES); do ln -sfn lifecycle-artifacts $(OUT_DIR)/$$p; done
	$(GORUN) ./hack/lifecycletoml -o $(OUT_DIR)/lifecycle.toml
	$(SBOM_GEN) $(addprefix $(OUT_DIR)/,$(SBOM_BINARIES))

# The SBOM generator: syft v$(SYFT_VERSION) as a library (Go binary
# cataloger, syft's CycloneDX, SPDX and Syft JSON encoders), reproducible
# output. hack/sbom is its own module, so syft's dependencies never reach
# the lifecycle binaries. The first build takes about 5 minutes here.
$(SBOM_GEN): hack/sbom/go.mod hack/sbom/go.sum $(wildcard hack/sbom/*.go)
	@echo "> Building the SBOM generator (syft $(SYFT_VERSION)) from hack/sbom"
	cd hack/sbom && CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $@ .

# --- tools ------------------------------------------------------------------

.PHONY: tools apt-tools
tools: apt-tools $(addprefix $(TOOLS_BIN)/,$(TOOLS))

# Installs the Debian packages only when a command is missing (needs root).
apt-tools:
	@missing=""; for c in $(APT_COMMANDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
		echo "> Installing $(APT_PACKAGES) (missing:$$missing)"; \
		[ "$$(id -u)" = 0 ] || { echo "apt-get needs root to install$$missing" >&2; exit 1; }; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi

# Each Go tool is built from its own wrapper module, so it links exactly the
# dependencies its release pins. The version flags mirror upstream release builds.
TOOL_oras_PKG     := oras.land/oras/cmd/oras
TOOL_oras_LDFLAGS :=
TOOL_helm_PKG     := helm.sh/helm/v3/cmd/helm
TOOL_helm_LDFLAGS := -X helm.sh/helm/v3/internal/version.version=v$(HELM_VERSION)
TOOL_crane_PKG     := github.com/google/go-containerregistry/cmd/crane
TOOL_crane_LDFLAGS := -X github.com/google/go-containerregistry/cmd/crane/cmd.Version=v$(CRANE_VERSION)
TOOL_olareg_PKG     := github.com/olareg/olareg/cmd/olareg
TOOL_olareg_LDFLAGS := -X github.com/olareg/olareg/internal/version.vcsTag=v$(OLAREG_VERSION)
# CNCF distribution v3 (the `registry:3` people self-host), built from its module.
TOOL_distribution_PKG     := github.com/distribution/distribution/v3/cmd/registry
TOOL_distribution_LDFLAGS := -X github.com/distribution/distribution/v3/version.version=v$(DISTRIBUTION_VERSION)
# pack's main package is its module root; its go.mod (copied into
# tools/pack, replace line included) is why `go install pack@v` is refused.
TOOL_staticcheck_PKG     := honnef.co/go/tools/cmd/staticcheck
TOOL_staticcheck_LDFLAGS :=
TOOL_pack_PKG     := github.com/buildpacks/pack
TOOL_pack_LDFLAGS := -X github.com/buildpacks/pack/pkg/client.Version=$(PACK_VERSION)
# go-gremlins, the mutation tester of `make mutation` (not part of `make test`).
TOOL_gremlins_PKG     := github.com/go-gremlins/gremlins/cmd/gremlins
TOOL_gremlins_LDFLAGS := -X main.version=v$(GREMLINS_VERSION)
# Trivy, the SBOM consumer of the acceptance tests (it reads SBOM referrers,
# --sbom-sources oci). Its release builds with GOEXPERIMENT=jsonv2 (it
# imports encoding/json/v2), so this build does too (TOOL_<name>_ENV).
TOOL_trivy_PKG     := github.com/aquasecurity/trivy/cmd/trivy
TOOL_trivy_LDFLAGS := -X github.com/aquasecurity/trivy/pkg/version/app.ver=v$(TRIVY_VERSION)
TOOL_trivy_ENV     := GOEXPERIMENT=jsonv2
# cosign, the signature verifier of the acceptance and e2e tests
# (cosign verify --key, no transparency log) and the key generator.
TOOL_cosign_PKG     := github.com/sigstore/cosign/v2/cmd/cosign
TOOL_cosign_LDFLAGS := -X sigs.k8s.io/release-utils/version.gitVersion=v$(COSIGN_VERSION)

$(TOOLS_BIN)/%: tools/%/go.mod tools/%/go.sum
	@echo "> Building $* from tools/$*"
	cd tools/$* && $(TOOL_$*_ENV) CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false \
		-ldflags "-s -w $(TOOL_$*_LDFLAGS)" -o $@ $(TOOL_$*_PKG)

# `make tools/bin/pack` (a path relative to the repository) builds the same
# file as $(TOOLS_BIN)/pack; likewise for every tool.
tools/bin/%: $(TOOLS_BIN)/% ;

# --- tests ------------------------------------------------------------------

TEST_ENV := LIFECYCLE_DIR=$(OUT_DIR) TOOLS_BIN=$(TOOLS_BIN)
FUZZTIME ?= 20s

.PHONY: test unit lint acceptance e2e apt-busybox apt-e2e fuzz
# Every test there is: unit, acceptance, the pack + Docker e2e suite and
# the kpack and Tekton runs.
test: unit acceptance e2e e2e-kpack e2e-tekton

# Every go test run has a deadline, so a hung test fails with its goroutine
# dump instead of running until CI kills it.
UNIT_TIMEOUT       := 10m
ACCEPTANCE_TIMEOUT := 40m

# The unit tests run after lint, twice: plainly, then under the race
# detector. The samples test runs the scripts under busybox sh, so
# busybox-static is installed first (it fails when busybox is missing).
unit: lint apt-busybox
	$(GO) test -timeout $(UNIT_TIMEOUT) ./...
	$(GO) test -race -timeout $(UNIT_TIMEOUT) ./...

# go vet and staticcheck v$(STATICCHECK_VERSION) (tools/staticcheck) over every package.
lint: $(TOOLS_BIN)/staticcheck
	$(GO) vet ./...
	# The tagged suites too, so a change that breaks them fails early.
	for tags in acceptance e2e e2e,kpack e2e,tekton; do $(GO) vet -tags $$tags ./acceptance/... ./e2e/...; done
	$(TOOLS_BIN)/staticcheck ./...

# The fault-injection test writes its totals next to out/lifecycle; they are
# printed here (go test hides a passing test's output), and a missing file
# fails the target.
acceptance: build tools
	rm -f out/faults-summary*.txt
	$(TEST_ENV) $(GO) test -tags acceptance -count=1 -timeout $(ACCEPTANCE_TIMEOUT) ./acceptance/...
	cat out/faults-summary.txt out/faults-summary-distribution3.txt out/faults-summary-sbom.txt

fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) hack/fuzz.sh

# e2e (build tag e2e): pack v0.38.2 (tools/bin/pack) on the local Docker
# Engine builds samples/app with a builder made from our release tarball and
# the samples/ buildpacks, and with our lifecycle image, against a Debian
# docker-registry on 127.0.0.1. The base images are built from Debian's
# busybox-static. The lifecycle image is read from the OCI layout `package`
# writes (LIFECYCLE_IMAGE is cleared for this target), and the test pushes
# it to its registry. E2E_FLAGS are passed to go test, e.g. -v.
E2E_FLAGS ?=
E2E_TIMEOUT := 30m
e2e: LIFECYCLE_IMAGE :=
e2e: build package tools apt-e2e $(TOOLS_BIN)/pack
	$(TEST_ENV) LIFECYCLE_IMAGE_LAYOUT=$(LIFECYCLE_IMAGE_LAYOUT) \
		$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) $(E2E_FLAGS) ./e2e/...

# e2e-kpack and e2e-tekton (build tags e2e,kpack and e2e,tekton): what
# kpack v0.17.0 and the Tekton catalog task buildpacks-phases 0.3 would run
# in a Kubernetes Pod, run container by container on the local Docker
# Engine against a docker-registry on 127.0.0.1, with our lifecycle image
# (out/lifecycle-image). flock keeps them from overlapping another Docker
# run on this machine.
E2E_PLATFORM_TIMEOUT := 15m
E2E_LOCK ?= /tmp/e2e.lock
KPACK_DIR := $(CURDIR)/out/kpack

.PHONY: e2e-kpack e2e-tekton kpack-bin
e2e-tekton: LIFECYCLE_IMAGE :=
e2e-tekton: build package apt-tools apt-e2e $(TOOLS_BIN)/pack
	$(TEST_ENV) flock $(E2E_LOCK) \
		$(GO) test -tags e2e,tekton -count=1 -timeout $(E2E_PLATFORM_TIMEOUT) -run 'TestTekton|TestDockerArgs' $(E2E_FLAGS) ./e2e/

# kpack's code runs from e2e/kpack, its own module (kpack's dependencies
# never reach the lifecycle binaries): out/kpack/kpack-e2e (builder
# creation, the build Pod, the completion's termination message) and
# kpack's build-init, completion and rebase binaries, which the test puts into
# images as kpack's config names them.
kpack-bin:
	mkdir -p $(KPACK_DIR)
	cd e2e/kpack && CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(KPACK_DIR)/kpack-e2e . \
		&& CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(KPACK_DIR)/build-init github.com/pivotal/kpack/cmd/build-init \
		&& CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(KPACK_DIR)/completion github.com/pivotal/kpack/cmd/completion \
		&& CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(KPACK_DIR)/rebase github.com/pivotal/kpack/cmd/rebase

e2e-kpack: LIFECYCLE_IMAGE :=
e2e-kpack: build package kpack-bin apt-e2e $(TOOLS_BIN)/pack
	$(TEST_ENV) LIFECYCLE_IMAGE_LAYOUT=$(LIFECYCLE_IMAGE_LAYOUT) KPACK_DIR=$(KPACK_DIR) flock $(E2E_LOCK) \
		$(GO) test -tags e2e,kpack -count=1 -timeout $(E2E_PLATFORM_TIMEOUT) -run 'TestKpack|TestDockerArgs' $(E2E_FLAGS) ./e2e/

# Installs Debian's busybox-static (a static /bin/busybox) when missing (needs root).
apt-e2e: apt-busybox
apt-busybox:
	@if [ "$$(dpkg-query -W -f='$${Status}' busybox-static 2>/dev/null)" != "install ok installed" ]; then \
		echo "> Installing busybox-static"; \
		[ "$$(id -u)" = 0 ] || { echo "apt-get needs root to install busybox-static" >&2; exit 1; }; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static; \
	fi

# --- mutation testing -------------------------------------------------------

# `make mutation` runs go-gremlins over each package, one at a time, and
# prints per package the mutants killed, lived and not covered, the test
# efficacy and the mutator coverage (hack/mutation). It fails under 95 %
# efficacy or 90 % mutator coverage, or when a mutant lives that
# hack/mutation/equivalent.txt does not list (keyed by file, function,
# mutator and source line, so that edits elsewhere keep an entry; `go test
# ./hack/mutation` fails on a stale one). cmd/lifecycle-artifacts is mutated
# too, to the same 90 % floor (MUTATION_COVERAGE_FOR, kept so that it can
# differ): its unit tests run the export, create, rebase and reattach
# commands in process against an in-process registry (upstream's phases
# faked for create), and cover 93 % of its mutants (2026-12-02: 281 killed,
# 0 lived, 21 not covered); what is left needs a Docker daemon (images.go's
# daemon paths, the daemon rebase), main's os.Exit, or is a switch case
# gremlins does not see covered. gremlins v0.5.0 tests a package main under the
# module path, where there is no package: hack/mutation puts a `go` shim
# first on its PATH (mainpkg.go), or every cmd mutant would count as killed.
# Each cmd mutant relinks the command's test binary: about 30 s each here.
# Logs and JSON reports go to out/mutation/. Not part of `make test`.
MUTATION_PACKAGES ?= artifacts exporter platform signing cmd/lifecycle-artifacts
MUTATION_COVERAGE_FOR ?= cmd/lifecycle-artifacts=90
MUTATION_WORKERS  ?= 1
MUTATION_TIMEOUT_COEFFICIENT ?= 20

.PHONY: mutation
mutation: $(TOOLS_BIN)/gremlins
	$(GO) run ./hack/mutation -gremlins $(TOOLS_BIN)/gremlins -out $(CURDIR)/out/mutation -root $(CURDIR) \
		-workers $(MUTATION_WORKERS) -timeout-coefficient $(MUTATION_TIMEOUT_COEFFICIENT) \
		$(addprefix -coverage-for ,$(MUTATION_COVERAGE_FOR)) $(MUTATION_PACKAGES)

# --- benchmark --------------------------------------------------------------

# Our exporter against the stock exporter and oras on a local registry
# (issue 5). BENCH_RUNS (default 5), BENCH_CASES, BENCH_BIG_MIB: see bench/main.go.
# Results: out/bench/latest.json and out/bench/results-<time>.json.
.PHONY: bench
bench: build tools
	$(TEST_ENV) $(GO) run ./bench

# --- housekeeping -----------------------------------------------------------

.PHONY: versions clean
versions:
	@echo "lifecycle $(LIFECYCLE_VERSION)"
	@echo "oras      $(ORAS_VERSION)"
	@echo "helm      $(HELM_VERSION)"
	@echo "crane     $(CRANE_VERSION)"
	@echo "olareg    $(OLAREG_VERSION)"
	@echo "distribution $(DISTRIBUTION_VERSION)"
	@echo "pack      $(PACK_VERSION)"
	@echo "staticcheck $(STATICCHECK_VERSION)"
	@echo "syft      $(SYFT_VERSION) (SBOMs)"
	@echo "gremlins  $(GREMLINS_VERSION)"
	@echo "trivy     $(TRIVY_VERSION)"

clean:
	rm -rf out $(TOOLS_BIN)

# --- distribution and demo (issue 4) ----------------------------------------

# `make package` writes out/lifecycle-v<version>.linux.{x86-64,arm64}.tgz
# (upstream's release layout; the version comes from lifecycle.toml) and the
# lifecycle image, an OCI image index for linux/amd64 and linux/arm64. With
# LIFECYCLE_IMAGE=host/repo:tag the index is pushed there; otherwise it is
# written as an OCI layout to out/lifecycle-image/.
PACKAGE_DIR    := $(CURDIR)/out/package
PACKAGE_ARCHES := amd64 arm64
LIFECYCLE_IMAGE ?=
LIFECYCLE_IMAGE_LAYOUT := $(CURDIR)/out/lifecycle-image

.PHONY: package package-binaries
package: build package-binaries
	$(GORUN) ./hack/package -descriptor $(OUT_DIR)/lifecycle.toml -out $(CURDIR)/out \
		$(foreach a,$(PACKAGE_ARCHES),-platform linux/$(a)=$(PACKAGE_DIR)/linux-$(a)/lifecycle) \
		$(if $(LIFECYCLE_IMAGE),-image $(LIFECYCLE_IMAGE),-layout $(LIFECYCLE_IMAGE_LAYOUT))

# The binaries of each platform, built with the flags of `build`, and
# their SBOMs (read from each platform's binaries).
package-binaries: $(SBOM_GEN)
	@for arch in $(PACKAGE_ARCHES); do \
		d=$(PACKAGE_DIR)/linux-$$arch/lifecycle; \
		echo "> Building lifecycle $(LIFECYCLE_VERSION) for linux/$$arch into $$d"; \
		mkdir -p $$d; \
		GOOS=linux GOARCH=$$arch $(GOBUILD) -o $$d/lifecycle github.com/buildpacks/lifecycle/cmd/lifecycle; \
		GOOS=linux GOARCH=$$arch $(GOBUILD) -o $$d/launcher github.com/buildpacks/lifecycle/cmd/launcher; \
		test $$(du -m $$d/launcher | cut -f 1) -le $(LAUNCHER_MAX_MB); \
		GOOS=linux GOARCH=$$arch $(GOBUILD) -o $$d/lifecycle-artifacts ./cmd/lifecycle-artifacts; \
		for p in $(STOCK_PHASES); do ln -sfn lifecycle $$d/$$p; done; \
		for p in $(OUR_PHASES); do ln -sfn lifecycle-artifacts $$d/$$p; done; \
		$(SBOM_GEN) $(addprefix $$d/,$(SBOM_BINARIES)); \
	done

# acceptance/package_test.go packages out/package/linux-*/lifecycle itself;
# acceptance/demo_test.go runs out/demo.
acceptance: package-binaries demo-bin

# `make demo`: builds samples/app with the samples/ buildpacks through
# out/lifecycle/creator on this host and exports it, with its artifacts, to
# an olareg registry started inside the demo. No Docker. DEMO_FLAGS are
# passed on, e.g. DEMO_FLAGS="-registry 127.0.0.1:5000/demo/app" or "-serve".
# cmd/demo is its own module, so olareg's dependencies stay out of the
# lifecycle binaries.
DEMO_BIN   := $(CURDIR)/out/demo
DEMO_FLAGS ?=

.PHONY: demo demo-bin
demo-bin:
	cd cmd/demo && CGO_ENABLED=0 $(GO) build -trimpath -o $(DEMO_BIN) .

demo: build demo-bin
	$(DEMO_BIN) -lifecycle $(OUT_DIR) -samples $(CURDIR)/samples $(DEMO_FLAGS)

# --- trying buildpacks (issue 14) -------------------------------------------

# `make stack STACK_REGISTRY=host[:port][/path]` pushes busybox build and run
# images (made from scratch, as e2e makes them: internal/stack) and a builder
# of our lifecycle tarball and the buildpacks to that registry, and prints
# the `pack build` line to run. STACK_FLAGS are passed to hack/stack, e.g.
# STACK_FLAGS="-buildpack ../my-bp -app ../my-app" (default: the samples).
STACK_REGISTRY ?=
STACK_FLAGS    ?=

.PHONY: stack
stack: build package apt-e2e $(TOOLS_BIN)/pack
	@[ -n "$(STACK_REGISTRY)" ] || { echo "set STACK_REGISTRY, e.g. make stack STACK_REGISTRY=127.0.0.1:5000/cnb" >&2; exit 1; }
	$(GORUN) ./hack/stack -registry $(STACK_REGISTRY) -lifecycle $(OUT_DIR) -pack $(TOOLS_BIN)/pack $(STACK_FLAGS)

# --- conformance (issue 13) -------------------------------------------------

# `make conformance LIFECYCLE_DIR=<dir>` runs the acceptance tests that check
# a rule of docs/spec.md against the lifecycle in <dir> (exporter, creator,
# lifecycle, … and lifecycle.toml, as /cnb/lifecycle has them) and writes
# out/conformance/<version>.{md,json}: one row per rule. Default: our
# build, whose rules' unit tests run too. CONFORMANCE_PROFILES=exporter,…
# selects profiles (docs/spec.md lists them); CONFORMANCE_TIMEOUT bounds
# each test. Exits non-zero when a rule fails.
LIFECYCLE_DIR        ?= $(OUT_DIR)
CONFORMANCE_PROFILES ?=
CONFORMANCE_TIMEOUT  ?= 15m
CONFORMANCE_OURS     := $(filter $(OUT_DIR),$(abspath $(LIFECYCLE_DIR)))

.PHONY: conformance conformance-stock stock-lifecycle
conformance: tools $(if $(CONFORMANCE_OURS),build demo-bin)
	$(GO) run ./hack/conformance -lifecycle $(abspath $(LIFECYCLE_DIR)) -tools $(TOOLS_BIN) \
		-out $(CURDIR)/out/conformance -timeout $(CONFORMANCE_TIMEOUT) -profiles "$(CONFORMANCE_PROFILES)"

# The stock lifecycle v$(LIFECYCLE_VERSION) as a lifecycle directory, to run
# the kit against: upstream's lifecycle binary built from its module (the
# version go.mod pins), every phase a link to it, upstream's launcher and a
# lifecycle.toml with upstream's version.
STOCK_DIR := $(CURDIR)/out/stock-lifecycle
stock-lifecycle:
	mkdir -p $(STOCK_DIR)
	$(GOBUILD) -o $(STOCK_DIR)/lifecycle github.com/buildpacks/lifecycle/cmd/lifecycle
	$(GOBUILD) -o $(STOCK_DIR)/launcher github.com/buildpacks/lifecycle/cmd/launcher
	for p in $(STOCK_PHASES) $(OUR_PHASES); do ln -sfn lifecycle $(STOCK_DIR)/$$p; done
	$(GORUN) ./hack/lifecycletoml -stock -o $(STOCK_DIR)/lifecycle.toml

conformance-stock: stock-lifecycle
	$(MAKE) conformance LIFECYCLE_DIR=$(STOCK_DIR)
