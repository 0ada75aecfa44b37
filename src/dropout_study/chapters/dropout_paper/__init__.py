"""Chapter `dropout-paper` (book/chapters/dropout-paper.md): what Srivastava et al. (2014) found
holds at laptop scale — tested as five primary findings (Fig. 11, §9.1, Fig. 9a, Fig. 9b,
Fig. 8), with Baldi & Sadowski (2013) and Wager et al. (2013) as theory checks beside them.

``experiment`` runs it (sweep ``cells``, the training ``protocol``s, ``summary`` into per-seed
metrics), ``paper_findings`` turns the metrics into findings, ``verdict`` decides the chapter's
word, its robustness table, power and sensitivity scan, ``tables`` and ``page`` format what the
page glues, ``plots`` draws its figures.
"""
