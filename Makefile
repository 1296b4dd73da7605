# RealtyForYou backend — the front door. `make dev` runs the stack, `make test` checks it.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION ?= 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTO_SRC := $(shell find protos/realty -name '*.proto')
PROTO_STAMP := protos/.generated
CHECKOV_ENV := $(TOOLS)/checkov
CHECKOV := $(CHECKOV_ENV)/bin/checkov

export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: install protos dev test lint fmt bench migrate supergraph seed deploy-config clean browser lighthouse chaos dead-letters load

## install: create .venv with every service, the gateway and the dev tools (idempotent)
install: $(STAMP) $(PROTO_STAMP) $(CHECKOV)

$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION) into $(TOOLS)/"
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(STAMP): $(UV) pyproject.toml uv.lock $(wildcard */pyproject.toml) $(wildcard */*/pyproject.toml)
	@echo "==> syncing the workspace into $(VENV)/"
	@$(UV) sync --all-packages --frozen 2>/dev/null || $(UV) sync --all-packages
	@touch $(STAMP)

# checkov pins versions the services must not share: its own environment, from the lock.
$(CHECKOV): $(UV) pyproject.toml uv.lock
	@echo "==> syncing checkov into $(CHECKOV_ENV)/"
	@UV_PROJECT_ENVIRONMENT=$(CHECKOV_ENV) $(UV) sync --frozen --only-group checkov --quiet
	@touch $(CHECKOV)

uv.lock:
	@$(MAKE) --no-print-directory $(UV)
	@$(UV) lock

## protos: generate Python stubs from protos/ (never edit the output by hand)
protos: $(STAMP)
	@rm -f $(PROTO_STAMP)
	@$(MAKE) --no-print-directory $(PROTO_STAMP)

$(PROTO_STAMP): $(STAMP) $(PROTO_SRC)
	@echo "==> generating protobuf/gRPC stubs"
	@find protos/realty \( -name '*_pb2.py' -o -name '*_pb2.pyi' -o -name '*_pb2_grpc.py' -o -name '*_pb2_grpc.pyi' \) -delete
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m grpc_tools.protoc -I protos --python_out=protos --mypy_out=quiet:protos \
		--grpc_python_out=protos --mypy_grpc_out=quiet:protos $(PROTO_SRC)
	@touch $(PROTO_STAMP)

## dev: run the whole stack on embedded defaults (Ctrl-C stops everything)
dev: install
	@$(PY) -m servicekit.devstack

## test: every test (uses TEST_DATABASE_URL / NATS_URL when set, else embedded servers)
test: install browser lighthouse
	@$(PY) -m pytest -q $(PYTEST_ARGS)

## lint: ruff + mypy + the layering contracts of .importlinter + hadolint on every Dockerfile
lint: install
	@$(VENV)/bin/hadolint $(wildcard services/*/Dockerfile libs/*/Dockerfile gateway/Dockerfile)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache
	@$(VENV)/bin/mypy libs/servicekit/servicekit libs/chimesim/chimesim $(foreach s,$(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml)),$(s)/$(notdir $(s))) gateway/gateway

fmt: install
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

## browser: Debian's chromium for the browser tests (apt-get as root; elsewhere they skip)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && echo "==> installing chromium (Debian)" \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
		|| echo "==> chromium cannot be installed here (not root): the browser tests will skip"

## lighthouse: npm lighthouse, pinned in tools/lighthouse, into .tools/lighthouse
LIGHTHOUSE := $(TOOLS)/lighthouse/node_modules/.bin/lighthouse
lighthouse: $(LIGHTHOUSE)

$(LIGHTHOUSE): tools/lighthouse/package.json tools/lighthouse/package-lock.json
	@echo "==> installing lighthouse into $(TOOLS)/lighthouse/"
	@mkdir -p $(TOOLS)/lighthouse
	@cp tools/lighthouse/package.json tools/lighthouse/package-lock.json $(TOOLS)/lighthouse/
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(TOOLS)/lighthouse --no-audit --no-fund --loglevel=error; \
		else echo "==> npm not found: the Lighthouse test will skip"; fi

## bench: benchmarks (print figures; they do not pass or fail); BENCH=<file or folder> runs only those
BENCH ?= $(wildcard bench libs/*/bench services/*/bench gateway/bench)
bench: install
	@$(PY) -m pytest -q -s -o python_files='bench_*.py' -o python_functions='bench_* test_*' --timeout=0 $(BENCH) $(PYTEST_ARGS)

## load: open-loop load of the frontends' mix through the gateway of a running `make dev`
##   (LOAD_RATES=25,50,100,200,400 requests/s, LOAD_SECONDS=20 each, LOAD_URL, LOAD_VISITORS); prints
##   p50/p95/p99 and errors per operation and the highest rate holding p95 < 200 ms, < 1% errors
load: install
	@$(PY) tools/load/load.py

## chaos: the chaos suite with two-minute outages under load (its quick part runs in `make test`)
chaos: install
	@CHAOS_OUTAGE_SECONDS=$${CHAOS_OUTAGE_SECONDS:-120} CHAOS_LOAD_CLIENTS=$${CHAOS_LOAD_CLIENTS:-8} \
		$(PY) -m pytest -q --timeout=1800 tests/chaos $(PYTEST_ARGS)

## dead-letters: list the events consumers gave up on (REPLAY=all, or REPLAY="12 13", replays them)
dead-letters: install
	@if [ -n "$(REPLAY)" ]; then \
		if [ "$(REPLAY)" = all ]; then $(PY) -m servicekit.bus.deadletters replay --all; \
		else $(PY) -m servicekit.bus.deadletters replay $(REPLAY); fi; \
	else $(PY) -m servicekit.bus.deadletters list; fi

## migrate: run every service's database migrations against DATABASE_URL
migrate: install
	@$(PY) -m servicekit.migrate

## supergraph: compose the running subgraphs into the supergraph the gateway serves
supergraph: install
	@$(VENV)/bin/gateway compose --out $${REALTY_DATA_DIR:-.dev}/supergraph.graphql

## deploy-config: production's AWS names and ARNs from Terraform's outputs (the applied stack's
##   state; TERRAFORM=terraform) into deploy/k8s/production/terraform-outputs.env, which
##   `kubectl apply -k deploy/k8s/production` needs (the script refuses incomplete outputs)
deploy-config:
	@set -o pipefail; $${TERRAFORM:-terraform} -chdir=deploy/terraform output -json \
		| $(PYTHON) deploy/k8s/terraform_outputs.py

## seed: load demo data into a running stack
seed: install
	@$(PY) -m listings.seed

clean:
	rm -rf $(VENV) $(TOOLS) $(PROTO_STAMP)
