"""dropout-study: tests of what people repeat about cross-entropy, dropout and L1/L2.

The package holds the models, losses, penalties, training and measures; the book's chapters
call into it. See the README for the two commands (``make book``, ``make test``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dropout-study")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
