# auditbot: `make demo` runs a whole campaign against the embedded test
# Phabricator; `make test` runs every test, the demo's end-to-end run among them.
GO ?= go

.PHONY: all build test test-phorge demo lint bench fuzz clean

all: lint test

build:
	$(GO) build -o bin/auditbot ./cmd/auditbot

test:
	$(GO) test -race -count=1 ./...

# The integration suite against a real Phorge (README "Testing against a
# real Phorge"): the lab in ../shared/lab, or PHAB_URL and tokens from the
# environment. Skips, saying why, when no Phorge is configured.
test-phorge:
	$(GO) test -race -count=1 -tags phorge -timeout 10m -run 'TestPhorgeContract' ./phabtest/
	$(GO) test -race -count=1 -tags phorge -timeout 20m -v ./phorgetest/

demo:
	$(GO) run ./cmd/auditbot demo

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./bot/replies

clean:
	rm -rf bin
