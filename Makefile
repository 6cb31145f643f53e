# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.deps-installed
APT_PACKAGES := chromium chromium-driver redis-server tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim
DATA ?= ../shared/data/neu_det

.PHONY: demo test test-fast dashboard bench lint format setup system-deps clean

setup: $(STAMP) system-deps

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch/torchvision are pinned here and installed first; the extras give ranges that include the pin, so they never move it.
$(STAMP): $(PY) pyproject.toml setup.py
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e ".[all]" "torch==2.14.1" "torchvision==0.29.1"
	touch $(STAMP)

# Debian packages the browser test, the recommender's Redis tests and the contract OCR need; skipped when present.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "installing:$$missing"; $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: setup
	$(PY) -m deepseek_apps.apps.inspector.demo --out demo_out --data $(DATA)
	$(PY) -m deepseek_apps.apps.recommender.demo --start-redis
	$(PY) -m deepseek_apps.apps.fraud.demo --out demo_out
	$(PY) -m deepseek_apps.apps.contracts.demo --out demo_out  # text PDF, DOCX and a scan (OCR) vs ground truth

test: setup
	$(PY) -m pytest -q --durations=15

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not browser and not slow"

dashboard: setup
	$(VENV)/bin/deepseek-apps dashboard

# inspector: about a minute; fraud: about 10 minutes; compression: about an hour the first time (ResNet-18 training + distillation, a 60-epoch detector fine-tune; cached in runs/)
bench: setup
	$(PY) benchmarks/inspector.py --data $(DATA)
	$(PY) benchmarks/compression.py --case all
	$(PY) benchmarks/recommender.py
	$(PY) benchmarks/contracts_rules.py  # CUAD field F1 of the contract rules + PDF reading speed, about a minute
	$(PY) benchmarks/contracts.py  # clause tagger on held-out CUAD (window + span AUPR, TF-IDF baseline), encoder FP32 vs INT8, pages/s; about 10 minutes
	$(PY) benchmarks/fraud.py  # YelpChi 3 seeds + synthetic 1e4/1e5, about 10 minutes; --big adds 1e6 (about 20 minutes, 12 GB)
	$(PY) benchmarks/soak.py  # recommender service under 32 clients for 10 minutes + inspector score killed 100 times, about 16 minutes

lint: $(STAMP)
	$(VENV)/bin/ruff check deepseek_apps dashboards tests benchmarks
	$(VENV)/bin/ruff format --check deepseek_apps dashboards tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format deepseek_apps dashboards tests benchmarks
	$(VENV)/bin/ruff check --fix deepseek_apps dashboards tests benchmarks

clean:
	rm -rf demo_out bench_out .pytest_cache
