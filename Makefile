# The two commands: `make book` (from nothing to a built book) and `make test`.
# Each creates .venv with the machine's python3 and installs the exact versions of the lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
PROFILE ?= book

.PHONY: book pdf test lint bench oracle lock lock-upgrade clean

# An existing .venv is kept (only the install step reruns when the lock or pyproject.toml
# changes). Every third-party package comes from the lock, each file checked against its hash;
# then the package itself, with --no-deps so nothing outside the lock comes in.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# The lock's pins without hashes, as pip constraints for what the lock leaves out (PyTorch,
# JAX): pip reads a hashed constraints file as a demand that everything be hashed.
$(VENV)/constraints.txt: $(LOCK) $(STAMP)
	sed -n 's/^\([A-Za-z0-9][^ ]*==[^ ]*\).*/\1/p' $(LOCK) > $@

# PyTorch, the tests' oracle, is kept out of the hashed lock: pip takes the pinned CPU build
# from a local file on the study's machines, where a resolver that does not look there (uv,
# poetry, or pip elsewhere) would fetch a CUDA build of several GB. It is installed at the pin
# of pyproject.toml's `oracle` extra, with --no-deps: its dependencies are in the lock.
ORACLE_PIN = $$($(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["oracle"])')
oracle: $(STAMP)
	$(BIN)/python -m pip install -q --no-deps $(ORACLE_PIN)

# Refresh the lock from pyproject.toml with pip-tools, from a venv of its own inside .venv (so
# .venv's packages stay exactly the lock's, and the book's build stamp never walks it):
# `make lock` keeps every pin that still satisfies pyproject.toml and adds what is new;
# `make lock-upgrade` moves every pin to the newest release allowed. Both rewrite
# environment.yml from the lock. Run on the study's machine kind (Python 3.11, Linux x86_64),
# where pip takes torch's CPU build from a local file: the lock then holds its dependencies
# (torch itself is listed as unsafe, so it stays out), and no CUDA package.
LOCK_VENV  := $(VENV)/lock-tools
PIP_TOOLS  := pip-tools==7.6.2
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --unsafe-package torch \
	--extra test --extra oracle --extra browser --extra cluster \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host
$(LOCK_VENV)/.installed:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q "$(PIP_TOOLS)"
	touch $@

lock: $(LOCK_VENV)/.installed
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --output-file $(LOCK) pyproject.toml
	$(PYTHON) tools/environment_from_lock.py

lock-upgrade: $(LOCK_VENV)/.installed
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --upgrade --output-file $(LOCK) pyproject.toml
	$(PYTHON) tools/environment_from_lock.py

book: $(STAMP)
	$(BIN)/dropout-study build --profile $(PROFILE)

# The PDF: the executed book's singlehtml printed by Debian's Chromium (see
# dropout_study/book/pdf.py for why not pdfhtml or LaTeX). Needs `apt-get install chromium`.
pdf: book
	$(BIN)/python -m dropout_study.book.pdf

# The project's code only: never executed notebooks or the README's output folders
# (runs/, results/), which a user's `dropout-study run --out ...` fills.
LINT_PATHS := src tests tools benchmarks

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

# mypy (configured in pyproject.toml) checks src/ before the tests run.
test: lint
	$(BIN)/mypy
	$(BIN)/pytest -n 2

# The benchmark peers (PyTorch, JAX) are not in the lock: JAX is installed within the lock's pins.
bench: oracle $(VENV)/constraints.txt
	$(BIN)/python -m pip install -q -c $(VENV)/constraints.txt $$($(BIN)/python -c 'import tomllib; print(*(r for r in tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["bench"] if not r.startswith("torch")))')
	$(BIN)/python benchmarks/bench_mlp.py
	$(BIN)/python benchmarks/bench_dask.py

clean:
	rm -rf _build book/generated .cache
