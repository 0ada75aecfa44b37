"""The chapters' science: one folder per chapter, and what they share.

Shared: :mod:`~dropout_study.chapters.verdicts` (the verdict vocabulary, the verdict record,
the robustness table), :mod:`~dropout_study.chapters.figures` (the figure style) and
:mod:`~dropout_study.chapters.cost` (how a run's work is counted before it starts).

Chapter ``<id>`` (an entry of ``_toc.yml``, its notebook ``book/chapters/<id>.md``) is the
folder ``chapters/<id with - replaced by _>/``:

- ``experiment.py`` — ``check_params(params)`` (ranges and consistency of the complete,
  resolved parameters the book hands it), ``run(params) -> Result`` and
  ``estimate(params) -> (work, memory)``;
- ``plots.py`` — the figures, from a ``Result``;
- ``verdict.py`` — ``decide(metrics) -> Verdict`` and ``robustness(metrics)``;
- any helper the chapter needs (``summary.py``, ``cells.py``, ...).

A chapter's defaults live only in its notebook's parameters cell. A chapter folder imports the
base modules, ``nn``, ``measures``, ``sweep`` and the shared modules here — never ``book``,
``cli`` or another chapter's folder.
"""
