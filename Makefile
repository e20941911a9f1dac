# ovsdb-etcd build, test and verification.
#
#   make build    bin/ovsdb-etcd
#   make deps     install the OVS/OVN packages the tests compare against
#   make test     make check, then every test under -race
#   make check    vet, lint, gofmt, go mod tidy, generated code, buf lint/breaking
#   make proto    regenerate the gRPC code from proto/

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO            ?= go
BIN           := $(CURDIR)/bin
GOLANGCI_LINT := $(BIN)/golangci-lint
# Not pinned in go.mod, to keep the module graph small.
GOLANGCI_LINT_VERSION := v2.15.0
BUF           := $(GO) tool buf
TEST_TIMEOUT  ?= 30m
TEST_FLAGS    ?=
# buf breaking compares proto/ with this git ref (when it has proto/).
BUF_AGAINST_REF ?= HEAD~1

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PACKAGES := openvswitch-common openvswitch-switch ovn-common ovn-central python3-openvswitch
# python3-openvswitch installs the OVS Python IDL for Debian's python3, not
# for whatever python3 comes first in PATH.
DEB_PYTHON   := /usr/bin/python3

.PHONY: all build test check verify vet lint fmt-check tidy-check proto proto-check \
	buf-lint buf-breaking deps clean

all: build

build:
	$(GO) build -o $(BIN)/ovsdb-etcd ./cmd/ovsdb-etcd

test: check
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

verify: check

check: vet fmt-check tidy-check proto-check buf-lint buf-breaking lint

vet:
	$(GO) vet ./...

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

fmt-check:
	@out="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

tidy-check:
	$(GO) mod tidy -diff

proto:
	$(BUF) generate

# Regenerate into a scratch directory and compare, so that the check never
# touches the work tree.
proto-check:
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	$(BUF) generate -o "$$tmp"; \
	diff -r -x '*.proto' "$$tmp/proto" proto || { echo "generated code is stale: run make proto"; exit 1; }

buf-lint:
	$(BUF) lint

buf-breaking:
	@if git cat-file -e '$(BUF_AGAINST_REF):buf.yaml' 2>/dev/null; then \
		$(BUF) breaking --against '.git#ref=$(BUF_AGAINST_REF)'; \
	else \
		echo "buf breaking: $(BUF_AGAINST_REF) has no buf.yaml, nothing to compare"; \
	fi

# Debian packages whose binaries and schemas the tests run and compare
# against (ovsdb-server, ovsdb-tool, ovsdb-client, ovn-nbctl, ovn-northd,
# the OVN schemas and the OVS Python IDL).
deps:
	@missing=0; \
	for c in ovsdb-server ovsdb-tool ovsdb-client ovn-nbctl ovn-northd; do \
		command -v $$c >/dev/null || missing=1; \
	done; \
	[ -f /usr/share/ovn/ovn-nb.ovsschema ] || missing=1; \
	[ -f /usr/share/openvswitch/vswitch.ovsschema ] || missing=1; \
	$(DEB_PYTHON) -c 'import ovs.db.idl' 2>/dev/null || missing=1; \
	if [ $$missing = 1 ]; then \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PACKAGES); \
	else \
		echo "deps: $(DEB_PACKAGES) already installed"; \
	fi

clean:
	rm -rf $(BIN)

# make run (engineer H): all-in-one on an embedded etcd serving the OVN
# Northbound and Southbound databases, as ovsdb-server would for OVN:
# punix sockets in RUN_DIR and ptcp:6641 / ptcp:6642 on 127.0.0.1. Every
# remote serves both databases. Data persists in RUN_DIR/data across runs;
# Ctrl-C (SIGINT) stops it cleanly.
RUN_DIR   ?= $(BIN)/run
NB_PORT   ?= 6641
SB_PORT   ?= 6642
OVN_SCHEMA_DIR ?= /usr/share/ovn
RUN_FLAGS ?=

.PHONY: run
run: build deps
	@mkdir -p '$(RUN_DIR)'
	@echo "ovsdb-etcd all-in-one: OVN_Northbound and OVN_Southbound, data in $(RUN_DIR)/data"
	@echo "  ovn-nbctl --db=unix:$(RUN_DIR)/ovnnb_db.sock show"
	@echo "  ovn-nbctl --db=tcp:127.0.0.1:$(NB_PORT) show"
	@echo "  ovn-sbctl --db=unix:$(RUN_DIR)/ovnsb_db.sock show"
	@echo "  ovn-sbctl --db=tcp:127.0.0.1:$(SB_PORT) show"
	@echo "  ovsdb-client list-dbs tcp:127.0.0.1:$(NB_PORT)"
	@echo "Press Ctrl-C to stop."
	exec $(BIN)/ovsdb-etcd all-in-one \
		--data-dir '$(RUN_DIR)/data' \
		--schema $(OVN_SCHEMA_DIR)/ovn-nb.ovsschema \
		--schema $(OVN_SCHEMA_DIR)/ovn-sb.ovsschema \
		--remote 'punix:$(RUN_DIR)/ovnnb_db.sock' \
		--remote 'punix:$(RUN_DIR)/ovnsb_db.sock' \
		--remote ptcp:$(NB_PORT):127.0.0.1 \
		--remote ptcp:$(SB_PORT):127.0.0.1 \
		$(RUN_FLAGS)

# make bench (engineer I): tools/ovsdb-bench starts ovsdb-server (standalone
# and a 3-member Raft cluster), ovsdb-etcd (all-in-one on embedded etcd, and
# frontend + txnengine + monitorhub on a 3-member etcd cluster) and that raw
# etcd cluster on loopback, runs issue 6's scenarios against a fresh instance
# each, and prints one markdown table with the targets. It exits non-zero if
# a run fails its end-of-run checks. BENCH_FLAGS passes -systems,
# -scenarios, -duration, -scale (see go run ./tools/ovsdb-bench -h).
BENCH_FLAGS ?=

.PHONY: bench
bench: deps build
	$(GO) run ./tools/ovsdb-bench -ovsdb-etcd $(BIN)/ovsdb-etcd $(BENCH_FLAGS)
