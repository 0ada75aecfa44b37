"""Chapter `dropout-paper` (book/chapters/dropout-paper.md): >-

``experiment`` runs it, ``plots`` draws its figures, ``verdict`` decides its verdict.
"""
