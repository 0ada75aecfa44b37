"""One module per chapter: ``check_params(params) -> params`` and ``run(params) -> Result``.

The module of chapter ``some-id`` is ``dropout_study.experiments.some_id``
(see :func:`dropout_study.chapters.experiment_module`).
"""
