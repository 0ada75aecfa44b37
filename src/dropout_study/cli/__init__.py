"""The ``dropout-study`` command line (:mod:`dropout_study.cli.main`)."""
