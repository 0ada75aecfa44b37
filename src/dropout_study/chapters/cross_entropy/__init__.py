"""Chapter `cross-entropy` (book/chapters/cross-entropy.md): Cross-entropy is introduced to make
the cost function convex.

``experiment`` runs it, ``plots`` draws its figures, ``verdict`` decides its verdict.
"""
