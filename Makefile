# lode: build, test, lint, bench, demo. Every target works on a fresh
# Debian 12 machine with Go; `make test` installs what the tests need.

GO       ?= go
BIN      := bin/git-lode
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/lodevcs/lode/cmd/cli.version=$(VERSION)
PKGS     := ./...

.PHONY: all build install uninstall test test-short lint fuzz bench bench-compare demo deps clean

all: build

## build: compile bin/git-lode
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/git-lode

## install: bin/git-lode, its man pages and shell completions under PREFIX
## (default /usr/local; PREFIX=~/.local needs no root). DESTDIR stages a package.
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share
BASHCOMP := $(DATADIR)/bash-completion/completions/git-lode
ZSHCOMP  := $(DATADIR)/zsh/site-functions/_git-lode
FISHCOMP := $(DATADIR)/fish/vendor_completions.d/git-lode.fish
install:
	@if command -v $(GO) >/dev/null 2>&1; then $(MAKE) --no-print-directory build; \
	  elif [ ! -x $(BIN) ]; then echo "no $(GO) on PATH to build $(BIN): run 'make build' first" >&2; exit 1; fi
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(dir $(BASHCOMP)) $(DESTDIR)$(dir $(ZSHCOMP)) $(DESTDIR)$(dir $(FISHCOMP))
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/git-lode
	rm -f $(DESTDIR)$(MANDIR)/man1/git-lode.1 $(DESTDIR)$(MANDIR)/man1/git-lode-*.1
	$(BIN) man $(DESTDIR)$(MANDIR)/man1
	$(BIN) completion bash >$(DESTDIR)$(BASHCOMP)
	$(BIN) completion zsh >$(DESTDIR)$(ZSHCOMP)
	$(BIN) completion fish >$(DESTDIR)$(FISHCOMP)

## uninstall: remove what install put under PREFIX
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/git-lode $(DESTDIR)$(MANDIR)/man1/git-lode.1 $(DESTDIR)$(MANDIR)/man1/git-lode-*.1
	rm -f $(DESTDIR)$(BASHCOMP) $(DESTDIR)$(ZSHCOMP) $(DESTDIR)$(FISHCOMP)

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
