# auditbot: `make demo` runs a whole campaign against the embedded test
# Phabricator; `make test` runs every test, the demo's end-to-end run among them.
GO ?= go

.PHONY: all build test test-phorge test-browser crash crash-later demo lint bench fuzz clean image release version

# What a release build says it is (auditbot version, the image's labels):
# from git in a checkout (the tag, else a Go pseudo-version of HEAD, with
# -dirty for uncommitted changes), else pass VERSION=, REVISION= and
# SOURCE_DATE_EPOCH= (a source tarball has no history). Release builds
# carry no VCS stamp, so a checkout and a tarball give the same bytes.
ifneq ($(shell git rev-parse --is-inside-work-tree 2>/dev/null),true)
else
ifeq ($(origin REVISION),undefined)
REVISION := $(shell git rev-parse HEAD)
endif
ifeq ($(origin SOURCE_DATE_EPOCH),undefined)
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct)
endif
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || \
	echo "v0.0.0-$$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd)-$$(git rev-parse --short=12 HEAD)$$(git diff --quiet HEAD || echo -dirty)")
endif
endif
DIST := dist
HOSTARCH := $(shell $(GO) env GOARCH)
LDFLAGS := -s -w -buildid= -X github.com/auditbot/auditbot/internal/cli.version=$(VERSION) -X github.com/auditbot/auditbot/internal/cli.revision=$(REVISION)
# build-linux ARCH OUT: a static, reproducible linux binary.
build-linux = CGO_ENABLED=0 GOOS=linux GOARCH=$(1) GOAMD64=v1 GOARM64=v8.0 GOFLAGS=-mod=readonly \
	$(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)' -o $(2) ./cmd/auditbot

all: lint test

build:
	$(GO) build -o bin/auditbot ./cmd/auditbot

# The deploy module's tests check the systemd unit (with systemd-analyze
# when installed), the Kubernetes manifests, the image builder and the
# alert rules against the binary.
test:
	$(GO) test -race -count=1 ./...
	cd deploy && $(GO) test -race -count=1 ./...

# crash kills the auditbot binary (SIGKILL) before and after every write of
# each scripted campaign (crashtest's scenarios), reruns it, and checks
# nothing was done twice or lost. `make test` runs a sample of these kill
# points. It also runs the in-process sweep that drops, one at a time, the
# request or the answer of every bot write of a recurring lifecycle
# (TestAttack3CrashSweepWholeLifecycle): 60 cases, each a whole campaign
# run, too slow for every `make test`, so there it skips unless
# AUDITBOT_SWEEP=1.
crash:
	$(GO) test -count=1 -timeout 30m -run 'TestCrashSweep$$' -v ./crashtest/ -crash.full
	AUDITBOT_SWEEP=1 $(GO) test -count=1 -timeout 30m -run 'TestAttack3CrashSweepWholeLifecycle$$|TestCrashSweepDisable$$' ./bot/

# crash-later is the same sweep, but a killed tick runs again only at the
# next step of the script, as when the daemon dies and ticks again later.
crash-later:
	$(GO) test -count=1 -timeout 30m -run 'TestCrashSweepLater$$' -v ./crashtest/ -crash.full -crash.later

# The integration suite against a real Phorge (README "Testing against a
# real Phorge"): the lab in ../shared/lab, or PHAB_URL and tokens from the
# environment. Skips, saying why, when no Phorge is configured.
test-phorge:
	$(GO) test -race -count=1 -tags phorge -timeout 10m -run 'TestPhorgeContract' ./phabtest/
	$(GO) test -race -count=1 -tags phorge -timeout 20m -v ./phorgetest/

# The demo is its own command, cmd/auditbot-demo, so that the auditbot
# binary carries no test Phabricator. It leaves its state file in
# demo-state/demo.db for the dashboard:
# go run ./cmd/auditbot serve --state demo-state/demo.db
demo:
	$(GO) run ./cmd/auditbot-demo -state-dir demo-state

# The dashboard driven in headless Chromium (Debian's chromium package);
# it skips without chromium unless CI=true.
test-browser:
	$(GO) test -count=1 -run TestDashboardInBrowser -v ./dashboard

# shapelint fails on a non-test function over 80 lines or a cyclomatic
# complexity over 20 (funlen's and gocyclo's counts), unless its
# allow-list (internal/tools/shapelint/allow.txt) names it with a reason.
lint:
	$(GO) mod tidy -diff
	cd deploy && $(GO) mod tidy -diff
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...
	$(GO) tool staticcheck ./...
	cd deploy && $(GO) tool staticcheck ./...
	$(GO) run ./internal/tools/shapelint

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./bot/replies

version:
	@test -n "$(VERSION)" -a -n "$(REVISION)" -a -n "$(SOURCE_DATE_EPOCH)" || \
		{ echo "not a git checkout: pass VERSION=, REVISION= and SOURCE_DATE_EPOCH="; exit 2; }
	@echo "$(VERSION) $(REVISION) $(SOURCE_DATE_EPOCH)"

# image: the container image for this machine's architecture, built from
# the static binary onto nothing (deploy/image; no base image, no network),
# as an OCI layout in dist/image and a `docker load` archive; then runs its
# binary from its layers as its non-root user (TestImageRuns, root needed).
image: version
	$(call build-linux,$(HOSTARCH),$(DIST)/bin/linux_$(HOSTARCH)/auditbot)
	cd deploy && $(GO) run ./cmd/mkimage -binary linux/$(HOSTARCH)=../$(DIST)/bin/linux_$(HOSTARCH)/auditbot \
		-version $(VERSION) -revision $(REVISION) -created $(SOURCE_DATE_EPOCH) \
		-oci ../$(DIST)/image -docker ../$(DIST)/auditbot-image.tar
	cd deploy && $(GO) test -count=1 -run '^TestImageRuns$$' -v ./image/

# release: linux/amd64 and linux/arm64 binaries, a CycloneDX SBOM of each,
# the two-platform image as an OCI layout tar, and SHA256SUMS of them all,
# in dist/release. The same commit gives the same bytes.
RELEASE_ARCHES := amd64 arm64
release: version
	rm -rf $(DIST)/release && mkdir -p $(DIST)/release
	$(foreach a,$(RELEASE_ARCHES),$(call build-linux,$(a),$(DIST)/release/auditbot-linux-$(a)) && ) true
	cd deploy && $(foreach a,$(RELEASE_ARCHES),$(GO) tool cyclonedx-gomod bin -json -noserial -notimestamp \
		-version $(VERSION) -output ../$(DIST)/release/auditbot-linux-$(a).cdx.json ../$(DIST)/release/auditbot-linux-$(a) && ) true
	cd deploy && $(GO) run ./cmd/mkimage $(foreach a,$(RELEASE_ARCHES),-binary linux/$(a)=../$(DIST)/release/auditbot-linux-$(a)) \
		-version $(VERSION) -revision $(REVISION) -created $(SOURCE_DATE_EPOCH) \
		-oci ../$(DIST)/release/image -oci-tar ../$(DIST)/release/auditbot-$(VERSION)-oci.tar
	rm -rf $(DIST)/release/image
	cd $(DIST)/release && sha256sum auditbot-* > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf bin $(DIST)
