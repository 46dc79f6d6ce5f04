# auditbot: `make demo` runs a whole campaign against the embedded test
# Phabricator; `make test` runs every test, the demo's end-to-end run among them.
GO ?= go

.PHONY: all build test test-browser demo lint bench fuzz clean

all: lint test

build:
	$(GO) build -o bin/auditbot ./cmd/auditbot

test:
	$(GO) test -race -count=1 ./...

# The demo leaves its state file in demo-state/demo.db for the dashboard:
# go run ./cmd/auditbot serve --state demo-state/demo.db
demo:
	$(GO) run ./cmd/auditbot demo --state-dir demo-state

# The dashboard driven in headless Chromium (Debian's chromium package);
# it skips without chromium unless CI=true.
test-browser:
	$(GO) test -count=1 -run TestDashboardInBrowser -v ./dashboard

lint:
	$(GO) mod tidy -diff
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./bot/replies

clean:
	rm -rf bin
