# Two entry points for a fresh machine: `make run` (demo on SQLite) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
FLASK := $(BIN)/flask --app matchmaker

.PHONY: install install-test run test lint audit test-sqlite test-postgres postgres browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip  # the venv's bundled pip has known advisories (make audit)

install: $(BIN)/python
	$(BIN)/pip install -q -e '.[postgres]'

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

run: install
	$(FLASK) db upgrade
	$(FLASK) seed
	@echo "坪山区数字服务供需对接平台: http://$(HOST):$(PORT)/  (Ctrl+C 停止)"
	@echo "演示账号："
	@$(FLASK) demo-logins
	$(BIN)/gunicorn -c gunicorn.conf.py --workers $(WORKERS) --bind $(HOST):$(PORT) wsgi:app

test: install-test browser lint audit test-sqlite test-postgres

lint:
	$(BIN)/ruff check .

# Known vulnerabilities in the installed packages (pip-audit + a fallback where the index serves no per-version
# data); accepted ones, with date and reason, in .ci/pip-audit-ignore.txt. AUDIT_STRICT=1 also fails on unaudited.
audit:
	$(BIN)/python .ci/audit.py --ignore-file .ci/pip-audit-ignore.txt

test-sqlite:
	env -u DATABASE_URL $(BIN)/python -m pytest

# The database-backed tests once more on PostgreSQL (model-only tests do not touch the database).
test-postgres: postgres
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -m "not slow and not e2e"

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start

# Debian's Chromium and a CJK font for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@test -x /usr/bin/chromium && fc-list | grep -qi wqy || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei)
