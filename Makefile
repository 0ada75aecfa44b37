# The two commands: `make book` (from nothing to a built book) and `make test`.
# Each creates .venv with the machine's python3 and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= book

.PHONY: book pdf test lint bench clean

# An existing .venv is kept (only the install step reruns when pyproject.toml changes).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/dropout-study build --profile $(PROFILE)

# The PDF: the executed book's singlehtml printed by Debian's Chromium (see
# dropout_study/book/pdf.py for why not pdfhtml or LaTeX). Needs `apt-get install chromium`.
pdf: book
	$(BIN)/python -m pip install -q -e ".[browser]"
	$(BIN)/python -m dropout_study.book.pdf

# The project's code only: never executed notebooks or the README's output folders
# (runs/, results/), which a user's `dropout-study run --out ...` fills.
LINT_PATHS := src tests tools benchmarks

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

test: lint
	$(BIN)/pytest -n 2

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[bench,cluster]"
	$(BIN)/python benchmarks/bench_mlp.py
	$(BIN)/python benchmarks/bench_dask.py

clean:
	rm -rf _build book/generated .cache
