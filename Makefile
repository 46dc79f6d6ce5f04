# auditbot: `make demo` runs a whole campaign against the embedded test
# Phabricator; `make test` runs every test, the demo's end-to-end run among them.
GO ?= go

.PHONY: all build test test-phorge test-browser crash crash-later demo lint bench fuzz clean

all: lint test

build:
	$(GO) build -o bin/auditbot ./cmd/auditbot

test:
	$(GO) test -race -count=1 ./...

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
	AUDITBOT_SWEEP=1 $(GO) test -count=1 -timeout 30m -run 'TestAttack3CrashSweepWholeLifecycle$$' ./bot/

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
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) run ./internal/tools/shapelint

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./bot/replies

clean:
	rm -rf bin
