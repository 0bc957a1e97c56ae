# The kit's front door. `make help` lists every target.
# Everything installs what it needs through the project's own files (cargo, localstack/install.sh).

SHELL := bash
.DEFAULT_GOAL := help

# The lsk CLI from the debug profile: the tests build that profile anyway, so nothing compiles twice.
LSK      ?= cargo run --quiet -p lsk --
FN       ?= square
DATA     ?= {"number": 6}
PROMPT   ?= a couch on the moon
ARGS     ?=

.PHONY: help local-up local-down deploy status test invoke image logs bench bench-tools lint clean install lock

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
	@cargo test --workspace --features image-generator/client $(ARGS)

# The venv install (mostly downloads) runs beside the compile (CPU) on a fresh clone.
bench: ## Measure the kit (medians, ratios) and write target/bench/
	@bash localstack/install.sh & install=$$!; \
	cargo build --profile bench-tools -p lsk -p lsk-e2e --bin lsk --bin lsk-bench; built=$$?; \
	wait $$install || { echo "make bench: installing LocalStack failed (see above)" >&2; exit 1; }; \
	[ $$built -eq 0 ] || exit $$built
	@target/bench-tools/lsk-bench $(ARGS)

bench-tools: install ## Install the bench's optional anchor (cargo-lambda, pinned) into .lsk/venv
	@.lsk/venv/bin/python -m pip install --quiet --require-hashes -r localstack/bench-tools.txt
	@echo "cargo-lambda installed in .lsk/venv: make bench now adds the anchor row"

lint: ## rustfmt check and clippy with warnings as errors
	@cargo fmt --all -- --check
	@cargo clippy --workspace --all-targets --features image-generator/client -- -D warnings

clean: ## Stop everything and remove build outputs and local state (.lsk)
	-@$(LSK) down --purge 2>/dev/null
	@cargo clean
	@rm -rf .lsk out

lock: ## Re-resolve localstack/requirements.lock (needs uv: pip install uv)
	@uv pip compile localstack/requirements.in --exclude-newer 2025-10-20 --python-version 3.11 \
		--generate-hashes --no-header -o localstack/requirements.lock
