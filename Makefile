# The kit's front door. `make help` lists every target.
# Everything installs what it needs through the project's own files (cargo, localstack/install.sh).

SHELL := bash
.DEFAULT_GOAL := help

# The lsk CLI from the debug profile: the tests build that profile anyway, so nothing compiles twice.
LSK      ?= cargo run --quiet -p lsk-cli --
FN       ?= square
DATA     ?= {"number": 6}
PROMPT   ?= a couch on the moon
ARGS     ?=
# The end-to-end tests mostly wait on LocalStack (a schedule's next minute, visibility timeouts,
# retries): more test threads than cores overlap the waits. TEST_THREADS=1 runs one at a time.
TEST_THREADS ?= 4
# And TEST_JOBS test binaries at a time (tests/run_all.py); ARGS given: one plain `cargo test`.
TEST_JOBS ?= 3
TEST_FEATURES := image-generator/client,image-generator/bedrock

.PHONY: help local-up local-down deploy status test test-py313 invoke image docker-image logs bench bench-tools lint clean install lock

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@printf '  Variables: FN=%s DATA=%s PROMPT="%s"\n' '$(FN)' '$(DATA)' '$(PROMPT)'

install: ## Install the pinned native LocalStack + awscli-local into .lsk/venv (automatic elsewhere)
	@bash localstack/install.sh

local-up: install ## Start LocalStack, build and deploy every function, print the endpoints
	@$(LSK) up $(ARGS)

local-down: ## Stop LocalStack and every Lambda process it started
	@$(LSK) down $(ARGS)

deploy: ## Build and deploy the stack in lsk.toml into the running LocalStack
	@$(LSK) deploy $(ARGS)

status: ## What is deployed: functions, URLs, queue depths, buckets
	@$(LSK) status $(ARGS)

invoke: ## Invoke a function: make invoke FN=square DATA='{"number": 6}'
	@$(LSK) invoke $(FN) --data '$(DATA)' $(ARGS)

logs: ## Show a function's CloudWatch logs: make logs FN=square
	@$(LSK) logs $(FN) $(ARGS)

image: ## Queue a prompt, wait for the PNG, save it under out/: make image PROMPT="..."
	@eval "$$($(LSK) env)" && cargo run --quiet -p image-generator --features client --bin image-client -- \
		--queue-name image-requests --prompt "$(PROMPT)" --wait --bucket lsk-images --out out $(ARGS)

test: install ## Run every test: unit tests and end to end against LocalStack (started automatically)
	@export RUST_TEST_THREADS=$(TEST_THREADS); if [ -n "$(ARGS)" ]; then \
	  cargo test --features $(TEST_FEATURES) $(ARGS); \
	else \
	  python3 tests/run_all.py --features $(TEST_FEATURES) --jobs $(TEST_JOBS); \
	fi

test-py313: install ## Only the Python 3.13 run: our image on a Debian trixie base made offline (make test runs it too)
	@cargo test -p lsk-e2e --test docker python_3_13 $(ARGS)

docker-image: install ## Build our LocalStack image (the docker backend's) and tag it lsk-localstack:latest for compose
	@$(LSK) image $(ARGS)

# The venv install (mostly downloads) and, where Docker answers and we are root, the offline
# base image (debootstrap: downloads and unpacking; a second run finds it) run beside the
# compile (CPU) on a fresh clone. The image built on that base is what the bench times.
bench: ## Measure the kit (medians, ratios) and write target/bench/
	@mkdir -p target; bash localstack/install.sh & install=$$!; base=; \
	if [ -z "$${LSK_DOCKER_BASE:-}" ] && [ "$$(id -u)" = 0 ] && docker info >/dev/null 2>&1; then \
	  bash localstack/docker/make-base.sh >target/bench-base.log 2>&1 & base=$$!; fi; \
	cargo build --profile bench-tools -p lsk-cli -p lsk-bench --bin lsk --bin lsk-bench; built=$$?; \
	wait $$install || { echo "make bench: installing LocalStack failed (see above)" >&2; exit 1; }; \
	[ -z "$$base" ] || wait $$base || \
	  echo "make bench: making the offline base failed (target/bench-base.log); the bench tries again" >&2; \
	[ $$built -eq 0 ] || exit $$built
	@target/bench-tools/lsk-bench $(ARGS)

bench-tools: install ## Install the pinned cargo-lambda + zig (localstack/build-tools.txt) into .lsk/venv
	@.lsk/venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r localstack/build-tools.txt
	@echo "cargo-lambda and zig installed in .lsk/venv: make bench now adds the anchor row"

lint: install ## rustfmt check, clippy (every feature) with warnings as errors, ruff on the Python plugin and prepare-site.py (CI runs it before make test)
	@cargo fmt --all -- --check
	@cargo clippy --workspace --all-targets --all-features -- -D warnings
	@.lsk/venv/bin/ruff check localstack/plugin localstack/docker tests/run_all.py
	@.lsk/venv/bin/ruff format --check localstack/plugin localstack/docker tests/run_all.py

clean: ## Stop everything and remove build outputs and local state (.lsk)
	-@$(LSK) down --purge 2>/dev/null
	@cargo clean
	@rm -rf .lsk out

lock: ## Re-pin localstack/requirements.lock (Python 3.11-3.13), build-tools.txt and sam-tools.txt (uv: on PATH or in .lsk/venv)
	@set -euo pipefail; uv="$$(command -v uv || echo .lsk/venv/bin/uv)"; \
	trap 'rm -f localstack/requirements.lock.new localstack/build-tools.txt.new localstack/sam-tools.txt.new' EXIT; \
	{ echo '# Generated by `make lock` (uv pip compile --universal --python-version 3.11 --exclude-newer 2026-02-20 --generate-hashes).'; \
	  echo '# One lock for Python 3.11, 3.12 and 3.13. Do not edit by hand; newer dependency releases break localstack-core.'; \
	  "$$uv" pip compile localstack/requirements.in --universal --python-version 3.11 --exclude-newer 2026-02-20 \
	    --generate-hashes --no-header; } > localstack/requirements.lock.new; \
	{ echo '# Generated by `make lock` (uv pip compile --universal --python-version 3.11 --exclude-newer 2026-02-20'; \
	  echo '# --exclude-newer-package cargo-lambda=2026-08-22 --generate-hashes) from build-tools.in. Do not edit by hand.'; \
	  echo '# Every wheel of each version is hashed, so the same file installs on Linux and macOS (x86_64 and arm64).'; \
	  "$$uv" pip compile localstack/build-tools.in --universal --python-version 3.11 --exclude-newer 2026-02-20 \
	    --exclude-newer-package cargo-lambda=2026-08-22 --generate-hashes --no-header; } > localstack/build-tools.txt.new; \
	{ echo '# Generated by `make lock` (uv pip compile --universal --python-version 3.11 --exclude-newer 2026-12-01'; \
	  echo '# --generate-hashes) from sam-tools.in. Do not edit by hand. Installed with pip --no-deps (the lock is complete).'; \
	  "$$uv" pip compile localstack/sam-tools.in --universal --python-version 3.11 --exclude-newer 2026-12-01 \
	    --generate-hashes --no-header; } > localstack/sam-tools.txt.new; \
	for f in localstack/requirements.lock localstack/build-tools.txt localstack/sam-tools.txt; do \
	  grep -q -- '--hash=sha256:' "$$f.new" || { echo "make lock: uv wrote no pins into $$f.new" >&2; exit 1; }; \
	done; \
	mv localstack/requirements.lock.new localstack/requirements.lock; \
	mv localstack/build-tools.txt.new localstack/build-tools.txt; \
	mv localstack/sam-tools.txt.new localstack/sam-tools.txt
