# Everything installs from uv.lock into .venv; uv itself is pinned and bootstrapped into
# .tools with the system python3, so a fresh clone needs only python3 and make.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
RUN := $(UV) run --frozen
# The sample dumps' names carry no date and their mtime is the clone's: they were captured then.
SAMPLE_CAPTURE_DATE := 2025-03-14

.PHONY: demo test test-quick bench clean

demo: .venv/.synced  ## ingest the bundled sample dumps into ./warehouse and print the answers
	$(RUN) paperlake ingest samples/dumps --captured-on $(SAMPLE_CAPTURE_DATE)
	$(RUN) paperlake report

test: .venv/.synced  ## lint, type-check and run the whole test suite (what CI runs)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy -p paperlake -p bench
	$(RUN) pytest

test-quick: .venv/.synced  ## the quick loop: lint, type-check, the tests that need no Prefect
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy -p paperlake -p bench
	$(RUN) pytest -m "not e2e"

bench: .venv/.synced  ## benchmark a backfill: make bench SCALE=1y (1d, 1y, 10y)
	$(RUN) python -m bench.run --scale $(or $(SCALE),1y)

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# --compile-bytecode: every command (and Prefect's temporary server) imports compiled
# modules even where Python may not write its __pycache__ (PYTHONDONTWRITEBYTECODE, read-only
# installs); compiling them at each start cost a 1-year CLI backfill ~7 s of CPU.
.venv/.synced: $(UV) uv.lock pyproject.toml Makefile
	$(UV) sync --frozen --compile-bytecode
	touch $@

clean:  ## remove the virtualenvs (not the warehouse)
	rm -rf .venv .tools
