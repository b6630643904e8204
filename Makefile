# The Makefile is the primary interface: `make help` lists the targets.
VERSION ?= 0.8.0
IMAGE_REPO ?= ghcr.io/oxidecomputer/oxide-cloud-controller-manager
GIT_SHA := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
ifeq ($(RELEASE),true)
IMAGE_TAG := $(VERSION)
else
IMAGE_TAG := $(VERSION)-$(GIT_SHA)
endif
IMAGE ?= $(IMAGE_REPO):$(IMAGE_TAG)

NODE := node_modules/.bin/node
NPM_STAMP := node_modules/.package-lock.json
TEST_FILES ?= $(shell find src sim test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
TEST_CONCURRENCY ?= 2

.PHONY: help deps testbin test test-unit lint fmt typecheck sim cluster demo bench bundle clean metrics-doc soak failover-soak

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NPM_STAMP) ## Install npm dependencies (pinned Node.js 24 included)

testbin: ## Build (first time) or locate the cached etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok, helm
	@bash hack/testbin.sh

test: deps testbin ## Run unit and integration tests (real cluster binaries, Oxide simulator; docs/testing.md)
	$(NODE) --test --test-global-setup=test/harness/global-setup.ts \
	  --test-concurrency=$(TEST_CONCURRENCY) --test-timeout=300000 $(TEST_FILES)

soak: deps testbin ## Seeded random Node/Service operations under Oxide faults, invariants checked throughout (SEED=n OPS=n MINUTES=n)
	$(NODE) hack/soak.ts $(if $(SEED),--seed $(SEED)) $(if $(OPS),--ops $(OPS)) $(if $(MINUTES),--minutes $(MINUTES))

failover-soak: deps testbin ## Load-balancer failover no-flap run: 50 Nodes, late Lease renewals, two 20 s apiserver pauses (MINUTES=n, default 30)
	$(NODE) hack/failover-soak.ts $(if $(MINUTES),--minutes $(MINUTES))

typecheck: deps ## Type-check everything with TypeScript 7's native checker
	node_modules/.bin/tsc -p tsconfig.json

lint: deps typecheck ## Lint (oxlint), check formatting (prettier), type-check
	node_modules/.bin/oxlint --type-aware --deny-warnings src sim test hack bench
	node_modules/.bin/prettier --check .

fmt: deps ## Format the tree
	node_modules/.bin/prettier --write .

sim: deps ## Start the Oxide API simulator on loopback (SEED=file optional)
	$(NODE) sim/main.ts $(if $(SEED),--seed $(SEED))

cluster: deps testbin ## Start etcd + kube-apiserver on loopback; prints the kubeconfig path
	$(NODE) hack/cluster.ts

demo: deps testbin ## See the CCM work, no rack needed (simulator + local cluster with kwok Nodes); ONCE=1 runs once and exits
	$(NODE) hack/demo.ts $(if $(filter 1 true yes,$(ONCE)),--once)

metrics-doc: deps ## Regenerate docs/metrics.md from the metric registry
	$(NODE) hack/metrics-doc.ts

bench: deps testbin ## Run benchmarks as one run: tables, targets judged, machine named (BENCH_DOC=1 writes docs/benchmarks.md)
	$(NODE) hack/bench.ts

clean: ## Remove build output (the test binary cache stays; see docs/operations.md)
	rm -rf dist

# Delivery: bundle, image, manifests, Helm chart, release (docs/operations.md).
CHART := charts/oxide-cloud-controller-manager
MANIFEST := manifests/oxide-cloud-controller-manager.yaml
HELM = $(shell bash hack/testbin.sh | tail -n1)/helm

.PHONY: deps-image build image-repro push image-smoke manifest helm-template helm-lint helm-package release-bump verify-release image-release-test

# RELEASE=true make push also signs (COSIGN_KEY), attests the SBOMs and pushes the chart here.
CHART_REPO ?= oci://$(patsubst %/,%,$(dir $(IMAGE_REPO)))/charts

bundle: deps ## Bundle the CCM into dist/oxide-cloud-controller-manager.mjs (esbuild)
	$(NODE) hack/bundle.ts

deps-image: deps ## Fetch the image's pinned inputs into ~/.cache/oxide-ccm (and a private buildah if no engine); installs nothing on the host
	bash hack/image-deps.sh

build: bundle ## Build the linux/amd64+arm64 image (manifest list) offline from the fetched inputs
	VERSION=$(VERSION) bash hack/build-image.sh $(IMAGE)

image-repro: deps ## Build HEAD twice in fresh clones and storage; compare the image digests
	bash hack/image-repro.sh

push: ## Push the manifest list and both images built by `make build`; RELEASE=true also signs (COSIGN_KEY), attests the SBOMs, pushes the chart to CHART_REPO
	VERSION=$(VERSION) CHART_REPO=$(CHART_REPO) bash hack/push-image.sh $(IMAGE)

verify-release: deps ## Verify a pushed release from the registry alone: signatures, digests, SBOM attestations, chart (COSIGN_PUB=cosign.pub)
	bash hack/verify-release.sh $(IMAGE_REPO):$(VERSION) $(CHART_REPO)

image-release-test: deps testbin ## The release path end to end against a registry on loopback: deps-image leaves the host alone, build, push, sign, verify
	bash hack/image-release-test.sh

image-smoke: deps testbin ## Smoke-test the built image: --version, --help, start against the simulator
	bash hack/image-smoke.sh $(IMAGE)

manifest: testbin ## Render the plain manifest from the Helm chart
	bash hack/render-manifest.sh > $(MANIFEST).tmp && mv $(MANIFEST).tmp $(MANIFEST)

helm-template: testbin ## Render the chart to stdout (ARGS="--set replicaCount=2" for overrides)
	$(HELM) template oxide-cloud-controller-manager $(CHART) --namespace kube-system $(ARGS)

helm-lint: testbin ## Lint the Helm chart
	$(HELM) lint --strict $(CHART)

helm-package: testbin ## Package the chart into dist/
	$(HELM) package $(CHART) --destination dist

release-bump: testbin ## Set VERSION=x.y.z in the Makefile, chart, source and manifest
	bash hack/release-bump.sh $(VERSION)
