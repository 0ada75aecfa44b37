"""Chapter `cost-under-dropout` (book/chapters/cost-under-dropout.md): Dropout does not change the
cost function.

``experiment`` runs it, ``plots`` draws its figures, ``verdict`` decides its verdict.
"""

CHAPTER = "cost-under-dropout"
"""The chapter id (an entry of ``_toc.yml``)."""
