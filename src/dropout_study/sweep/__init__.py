"""Sweeps over cells, in parallel processes or on a Dask cluster, resumable from disk.

- :mod:`~dropout_study.sweep.runner` — :func:`run_sweep` and the cell cache;
- :mod:`~dropout_study.sweep.cluster` — the Dask backend (``--scheduler``);
- :mod:`~dropout_study.sweep.progress` — finished cells reported to the CLI's progress bar;
- :mod:`~dropout_study.sweep.timing` — where a chapter's time goes.

Imports only from the base modules; scheduling here never changes a number (a cell derives
its randomness from the seeds it carries and runs with one BLAS thread wherever it runs).
"""
