# All set-up lives here: a fresh machine needs only Go (see README.md).
GO ?= go
PKGS := ./...
# Fuzz targets: package:FuzzName, each run for FUZZTIME.
FUZZTIME ?= 30s
FUZZ_TARGETS := ./linkis:FuzzParseLabels ./linkis:FuzzParseResourceStrings ./manager:FuzzDecodeCommand ./manager:FuzzRestore
FUZZ_TARGETS += ./sim:FuzzParseScenario ./sim:FuzzParseTrace
FUZZ_TARGETS += ./raftstore:FuzzDecodeEntry ./raftstore:FuzzAPIRequest
FUZZ_TARGETS += ./api:FuzzReadResultSet ./engineconn/engines:FuzzReadFrame ./engineconn/engines:FuzzSplitSQL ./ecm:FuzzMaterials
FUZZ_TARGETS += ./api:FuzzResultRefOf ./ecm:FuzzHostDataRequest
FUZZ_TARGETS += ./orchestrator:FuzzSubstitute ./orchestrator:FuzzCheck ./orchestrator/entrance:FuzzJobRequestJSON ./orchestrator/restapi:FuzzHandler
FUZZ_TARGETS += ./datasource:FuzzParseURL ./datasource:FuzzParse ./engineconn/engines:FuzzSplitStatements
FUZZ_TARGETS += ./orchestrator/restapi:FuzzSplitRow ./orchestrator/restapi:FuzzTextGuard ./orchestrator/restapi:FuzzSubmitBody ./orchestrator/identity:FuzzReadDirectory
FUZZ_TARGETS += ./orchestrator/admin:FuzzManageAPI ./orchestrator/console:FuzzConsole

.PHONY: test vet deps testdb bench fuzz soak demo cluster tidy

test: vet deps testdb
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

# What the tests need beyond Go: OpenLDAP's slapd for the LDAP login tests
# and Chromium for the console's browser tests (installed from Debian
# packages when missing; the tests fail without them).
deps:
	@command -v slapd >/dev/null 2>&1 || test -x /usr/sbin/slapd || scripts/install-slapd.sh
	@command -v chromium >/dev/null 2>&1 || scripts/install-chromium.sh

# The jdbc engine's tests start a real PostgreSQL 15 and a real MariaDB
# (scripts/testdb.sh); MariaDB is installed from Debian packages when absent.
testdb:
	scripts/testdb.sh install

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# Benchmarks recorded in BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m $(PKGS)

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# Long property-based runs and the multi-host soak - random kills and
# partitions under load, as root (not part of make test).
soak:
	$(GO) test -race -count=1 -timeout 60m -run 'Property|StateMachine' ./manager/ -args -rapid.checks=20000
	$(GO) test -count=1 -timeout 60m -run 'TestSimProperty' ./sim/ -args -rapid.checks=20000
	$(GO) run ./cmd/linkis sim --scenario sim/scenarios/faults.json --policy all
	for store in wal bolt; do \
		LINKIS_SOAK_STORE=$$store LINKIS_SOAK_DURATION=$${LINKIS_SOAK_DURATION:-2m} $(GO) test -tags soak -count=1 -timeout 30m -run Soak -v ./cmd/linkis/ || exit 1; \
	done
	LINKIS_SOAK_DURATION=$${LINKIS_SOAK_DURATION:-2m} $(GO) test -tags soak -count=1 -timeout 60m -run TestSoak -v ./cmd/linkis/clustertest/

demo:
	$(GO) run ./cmd/linkis demo

# A local 3-member manager cluster on loopback (Ctrl-C stops it).
cluster:
	scripts/cluster.sh

# -e: modernc.org/sqlite's own tests import a pprof version the module
# proxy no longer serves; nothing we build needs it.
tidy:
	$(GO) mod tidy -e
