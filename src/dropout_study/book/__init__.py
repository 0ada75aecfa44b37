"""Everything that executes, caches, renders, publishes and cites the book.

Parameters and profiles (:mod:`~dropout_study.book.params`, the chapter sources
:mod:`~dropout_study.book.source`), the notebook API (:mod:`~dropout_study.book.report`),
execution and caching (:mod:`~dropout_study.book.pipeline`, :mod:`~dropout_study.book.cache`,
:mod:`~dropout_study.book.buildstamp`, :mod:`~dropout_study.book.outputs`,
:mod:`~dropout_study.book.kernel`, :mod:`~dropout_study.book.parallel`), confirmations
(:mod:`~dropout_study.book.confirm`), generated pages and renderings
(:mod:`~dropout_study.book.generated_pages`, :mod:`~dropout_study.book.render`,
:mod:`~dropout_study.book.sphinxext`, :mod:`~dropout_study.book.pdf`,
:mod:`~dropout_study.book.browser`), citing (:mod:`~dropout_study.book.citing`) and what the
CLI lists (:mod:`~dropout_study.book.catalog`, :mod:`~dropout_study.book.estimates`,
:mod:`~dropout_study.book.preflight`).

It may import every layer below it; no chapter or lower layer imports it.
"""
