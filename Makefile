# Realtime Comments: one entry point for setting up, running and testing the project.
# `make dev` runs the whole system locally; `make test` runs every test. Both set up what is missing.

SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
STAGE ?= dev
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

FRONTEND_SOURCES := $(shell find frontend -path frontend/node_modules -prune -o -path frontend/out -prune -o -path frontend/.next -prune -o -path frontend/test-results -prune -o -type f -print 2>/dev/null)

.PHONY: setup setup-python setup-node setup-browser dev synth test test-python test-frontend test-browser lint deploy diff bench clean

setup: setup-python setup-node

setup-python: $(VENV)/.installed
# The project itself is installed editable: realtime_comments_cdk, realtime_comments and
# realtime_comments_client map onto stacks/realtime_constructs/, lambdas/ and realtime_comments_client/
# (setup.py), so the checkout imports them by the names a consumer of the wheel uses.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml setup.py
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	$(PYTHON) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup-node: node_modules/.installed frontend/node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@
frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (never a browser download).
setup-browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

frontend/out/index.html: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build
	touch $@

## Run the whole system locally: synthesizes the dev stage if a source changed, then serves it (Ctrl-C stops it).
dev: setup-python cdk.out-dev/manifest.json frontend/out/index.html
	$(PYTHON) -m local_runtime --stage dev --no-synth --cdk-out cdk.out-dev $(ARGS)

CDK_SOURCES := app.py cdk.json cdk.context.json $(shell find stacks lambdas -name '*.py' -o -name '*.txt' 2>/dev/null)

## Synthesize every stage into cdk.out (offline, no credentials): cdk.out/assembly-<stage>/.
synth: cdk.out/manifest.json
cdk.out/manifest.json: $(VENV)/.installed $(CDK_SOURCES)
	CDK_OUTDIR=cdk.out $(PYTHON) app.py
	touch $@

# `make dev` synthesizes only the dev stage (the `stages` context), into its own folder, so that it
# and the tests' all-stage cdk.out never invalidate each other, and without the cdk-nag validation
# (about 1.5 s of the synth; the template is the same; `make synth`, the tests and CI validate).
cdk.out-dev/manifest.json: $(VENV)/.installed $(CDK_SOURCES)
	CDK_OUTDIR=cdk.out-dev CDK_CONTEXT_JSON='{"stages":"dev","nag":false}' $(PYTHON) app.py
	touch $@

lint: setup-python frontend/node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --no-error-summary lambdas/realtime_comments lambdas/handlers local_runtime stacks realtime_comments_client
	cd frontend && npm run lint && npm run typecheck

# The end-to-end suites run the templates synthesized once into cdk.out. pytest-xdist spreads the
# suite over PYTEST_WORKERS processes, whole test modules each (so a module's fixtures, such as
# its runtime, are built once); PYTEST_WORKERS=0 runs it in this process, in order.
PYTEST_WORKERS ?= 2
test-python: setup-python synth
	E2E_CDK_OUT=cdk.out $(PYTHON) -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile

test-frontend: frontend/node_modules/.installed
	cd frontend && npm test

test-browser: setup-python setup-browser synth frontend/out/index.html
	cd frontend && E2E_NO_SYNTH=1 npm run test:browser

## Every test: lint and type checks, Python (handlers, infrastructure, local runtime end to end), frontend unit and browser tests, checkov.
# In four steps; within a step, independent jobs share the machine's cores and each one's output
# is printed whole when it ends. The Python suite (its own two workers) and the browser tests,
# which run real local runtimes under load, have the machine to themselves.
test:
	$(MAKE) --no-print-directory -j3 --output-sync=target setup-python setup-node setup-checkov setup-browser
	$(MAKE) --no-print-directory -j2 --output-sync=target lint test-frontend frontend/out/index.html checkov
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-browser

## Deploy one stage: make deploy STAGE=prod (needs AWS credentials). Builds the frontend first:
# Stages with a site (StageConfig.site) upload frontend/out and runtime-config.json to it.
SITE_ASSETS := --context siteAssets=frontend/out
deploy: setup frontend/out/index.html
	npx cdk deploy --context stages=$(STAGE) $(SITE_ASSETS) '$(STAGE)/*' --require-approval broadening

diff: setup frontend/out/index.html
	npx cdk diff --context stages=$(STAGE) $(SITE_ASSETS) '$(STAGE)/*'

## Benchmarks: prints one table (see README, Performance).
bench: setup-python
	$(PYTHON) -m benchmarks

clean:
	rm -rf cdk.out cdk.out-dev .local .build frontend/out frontend/.next

# checkov on the three synthesized templates, in its own pinned venv (requirements-checkov.txt;
# its dependencies clash with .venv). Skipped checks and their reasons: .checkov.yaml.
.PHONY: setup-checkov checkov
setup-checkov: .venv-checkov/.installed
.venv-checkov/.installed: requirements-checkov.txt
	scripts/checkov.sh --install-only

## checkov gate: passed / failed / skipped per stage template; fails on any failed check.
# (synth is a prerequisite, not only a step of scripts/checkov.sh, so that `make -j` orders them.)
checkov: setup-checkov $(if $(CHECKOV_NO_SYNTH),,synth)
	scripts/checkov.sh
