"""Chapter `noisy-loss` (book/chapters/noisy-loss.md): Dropout makes the loss surface noisier, so
model training takes longer.

``experiment`` runs it, ``plots`` draws its figures, ``verdict`` decides its verdict.
"""
