# Two commands on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run demo test lint typecheck pytest fuzz-faults chromium bench bench-quick bench-ab bench-ab-quick bench-soak clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	GYEOL_TEST_SECRET_KEY=test_sk_dummy GYEOL_ENV=development GYEOL_TOSS_SIM=true $(VENV)/bin/gyeol serve

# Gyeol as `make run` starts it, and the example shop (examples/shop/) next to it; prints the shop's URL.
demo: $(STAMP)
	$(PY) examples/shop/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy examples/shop

# The browser tests (tests/browser/) drive Debian's Chromium; Playwright's own browser download cannot work here.
# Without root the tests skip with one loud line (and fail under CI=true).
# Korean glyphs for the screenshots come from Debian's fonts-noto-cjk, installed the same way.
chromium:
	@if { [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; } && [ "$$(id -u)" = 0 ] \
	    && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium and fonts-noto-cjk for tests/browser/"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk >/dev/null || \
	  echo "apt-get install chromium fonts-noto-cjk failed"; \
	fi

pytest: $(STAMP) chromium
	$(VENV)/bin/pytest

test: lint typecheck pytest

# Faults at full size (issue 28): 2,000 payments, 1,000 refunds and 20 kill -9 per store (`make test` runs 300/150/5).
fuzz-faults: $(STAMP)
	GYEOL_FUZZ_SCALE=full $(VENV)/bin/pytest tests/test_kill_at_scale.py

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py

bench-quick: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py --quick

# Two versions side by side and the performance guard (bench/README.md): OLD defaults to origin/main, else HEAD^;
# NEW to this checkout as it is (WORKTREE). Exits non-zero when a guard fails.
OLD ?=
NEW ?= WORKTREE
bench-ab: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/ab.py $(if $(OLD),--old $(OLD)) --new $(NEW)

bench-ab-quick: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/ab.py --quick $(if $(OLD),--old $(OLD)) --new $(NEW)

# Load held for MINUTES (default 10) at c=64 on each store; exits non-zero when RSS or p99 drifts (bench/README.md).
MINUTES ?= 10
bench-soak: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/soak.py --minutes $(MINUTES)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
