"""``python -m dropout_study``: the ``dropout-study`` command (:mod:`dropout_study.cli.main`)."""

from dropout_study.cli.main import entry

if __name__ == "__main__":
    entry()
