"""Chapter `l1-vs-l2` (book/chapters/l1-vs-l2.md): L1 makes weights sparse, L2 shrinks them.

``experiment`` runs it, ``plots`` draws its figures, ``verdict`` decides its verdict.
"""
