"""Chapter `linearity` (book/chapters/linearity.md): >-

``experiment`` runs it, ``plots`` draws its figures, ``verdict`` decides its verdict.
"""
