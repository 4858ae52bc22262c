# lode: build, test, lint, bench, demo. Every target works on a fresh
# Debian 12 machine with Go; `make test` installs what the tests need.

GO       ?= go
BIN      := bin/git-lode
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/lodevcs/lode/cmd/cli.version=$(VERSION)
PKGS     := ./...

.PHONY: all build test test-short lint fuzz bench bench-compare demo deps clean

all: build

## build: compile bin/git-lode
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/git-lode

## deps: install the system tools the tests and benchmarks use (idempotent)
deps:
	./.ci/deps

## test: the whole suite (unit, fuzz seeds, integration through real git), with the race detector
test: deps build lint
	LODE_TEST_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -timeout 30m $(PKGS)

## test-short: unit tests only, no race detector (quick local loop)
test-short:
	$(GO) test -short $(PKGS)

## lint: gofmt, go vet, staticcheck, and the package layering (depguard, .golangci.yml)
GOLANGCI ?= github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)
	$(GO) run $(GOLANGCI) run $(PKGS)

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./cas/pointer -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./cas/manifest -run '^$$' -fuzz 'FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./cas/manifest -run '^$$' -fuzz FuzzDecodeLocated -fuzztime $(FUZZTIME)
	$(GO) test ./cas/pack -run '^$$' -fuzz FuzzParseIndexAndScan -fuzztime $(FUZZTIME)
	$(GO) test ./cas/midx -run '^$$' -fuzz FuzzOpen -fuzztime $(FUZZTIME)
	$(GO) test ./cas/chunker -run '^$$' -fuzz FuzzChunker -fuzztime $(FUZZTIME)
	$(GO) test ./hooks/filterproc -run '^$$' -fuzz FuzzServe -fuzztime $(FUZZTIME)

## bench: lode vs Git LFS (and restic) on generated data; writes bench/out/
bench: deps build
	./bench/run.sh

## bench-compare: the same checkout and mount measurements with the build at BASE (default HEAD~1) and bin/git-lode, in one run
BASE ?= HEAD~1
bench-compare: build
	./.ci/deps --system
	./bench/compare.sh $(BASE)

## demo: the main job end to end on the embedded default (no cloud account)
demo: build
	./.ci/deps --system
	./integration/demo.sh

clean:
	rm -rf bin bench/out
