# The two commands a newcomer types: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench install clean vendor-swagger-ui a11y
# axe-core from npm for the accessibility browser tests; once installed they run offline.
AXE    := tests/a11y/node_modules/axe-core/axe.min.js

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[postgres,browser,report,bench,dev]'
	touch $(STAMP)

install: $(STAMP)

# Without npm the accessibility tests skip and say why (CI installs npm and requires them).
$(AXE): tests/a11y/package.json tests/a11y/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/a11y --no-audit --no-fund --silent && touch $(AXE); \
	else echo "npm not found: the accessibility tests will skip (apt-get install npm)"; fi

a11y: $(AXE)

demo: $(STAMP)
	$(BIN)/ansim demo

test: $(STAMP) $(AXE)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/ansim bench all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Swagger UI is vendored from the official npm distribution (see src/ansim/web/vendor/swagger-ui/SOURCE.md).
vendor-swagger-ui:
	@test -n "$(VERSION)" || (echo "usage: make vendor-swagger-ui VERSION=x.y.z" && exit 2)
	cd $$(mktemp -d) && npm pack -q swagger-ui-dist@$(VERSION) && tar xzf swagger-ui-dist-$(VERSION).tgz && \
	  cp package/swagger-ui-bundle.js package/swagger-ui.css package/LICENSE package/NOTICE \
	     package/swagger-ui-bundle.js.LICENSE.txt $(CURDIR)/src/ansim/web/vendor/swagger-ui/
	cd src/ansim/web/vendor/swagger-ui && sha256sum swagger-ui-bundle.js swagger-ui.css > SHA256SUMS
