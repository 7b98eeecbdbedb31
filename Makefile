# flowhawk — see README.md. `make demo` runs the sensor on the bundled sample,
# `make test` runs every test tier (privileged ones need root).

GO       ?= go
BIN      := bin/flowhawk
GOFLAGS  ?=
# What `flowhawk version` and flowhawk_build_info report: the commit (with
# -dirty for uncommitted changes), so a fleet's metrics tell builds apart;
# dev outside a git checkout of this directory; `make build VERSION=1.2.3`
# sets another. Only this directory's own repository is asked: a tarball
# unpacked inside another one (a home directory or a monorepo kept in git)
# was stamped with that repository's commit. safe.directory: a checkout
# owned by another user (a CI cache, a build as root) was stamped dev, and
# make already runs this directory's Makefile, so reading its .git trusts
# nothing more. Set here, not with ?=: a VERSION in the environment (a
# generic name other tools export) became the binary's version.
VERSION  = $(or $(if $(wildcard .git),$(shell git -c safe.directory='$(CURDIR)' describe --tags --always --dirty 2>/dev/null)),dev)
# Fuzz time per target in `make test` (CI); raise it for real fuzzing sessions.
FUZZTIME ?= 10s
# Time bound for minimizing each new interesting input (go test -fuzzminimizetime).
FUZZMINTIME ?= 1s
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all deps build docs generate check-generate test unit race fuzz test-kernels bench demo lint dataset clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/flowhawk

# Debian packages for generate, tests and benchmarks (installs what is missing, as root).
deps:
	@bash scripts/install-deps.sh

# Regenerate docs/features.md from the feature registry (a test checks it is current).
docs:
	$(GO) generate ./features

# Regenerate the eBPF objects and their Go bindings (needs clang, llvm, libbpf-dev).
generate:
	$(GO) generate ./bpf/...

# CI: the committed generated files must match what `make generate` produces.
check-generate: generate
	@git diff --exit-code --stat -- bpf/ || { echo "bpf/: generated files differ from the committed ones; run 'make generate' and commit" >&2; exit 1; }

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

unit:
	@GO=$(GO) bash scripts/unit.sh

# Short fuzzing of every decoder/parser fuzz target (FUZZTIME each); see
# scripts/fuzz.sh for the retries of Go 1.26's fuzz-time deadline race.
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMINTIME=$(FUZZMINTIME) bash scripts/fuzz.sh

# The data race detector on the code that shares memory between goroutines:
# the kernel map drain's batch goroutine, the ring-buffer reader, the
# pipeline's workers, the NATS publisher and consumer, collect's signals,
# the classifier's training and CSV workers (about 40 s).
# (The whole suite under -race would take several times make unit.)
race:
	$(GO) test -race -count=1 ./pipeline ./export/stream ./classifier
	$(GO) test -race -count=1 -run 'TestIterateLeavesNoGoroutine|TestKernelReadEventsDeadline|TestKernelTCPLifecycle|TestKernelTimeouts|TestKernelEvict' ./collector
	$(GO) test -race -count=1 -run 'Collect' ./cmd/flowhawk

# The kernel-path tests on Debian 12's kernel (6.1: no TCX, an older
# verifier) booted under qemu with this machine's root file system: eBPF
# loads, BPF_PROG_TEST_RUN, captures against tcpdump (scripts/test-kernels.sh).
test-kernels:
	bash scripts/test-kernels.sh

test: deps lint check-generate build unit race fuzz test-kernels

bench: deps build
	bash scripts/bench.sh

demo: build
	bash scripts/demo.sh

# The labeled lab corpus (needs root: network namespaces) and its dataset CSV.
dataset: build
	bash scripts/lab-dataset.sh

clean:
	rm -rf bin out
