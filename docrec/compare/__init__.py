"""``docrec compare``: several recognisers on the same fields, with intervals, paired tests and plots.

Modules: :mod:`~docrec.compare.stats` (Wilson, bootstrap, McNemar, reject curves),
:mod:`~docrec.compare.specs` (system and field-set specs), :mod:`~docrec.compare.fieldsets`
(loading), :mod:`~docrec.compare.runner` (reading with a cache by field hash),
:mod:`~docrec.compare.metrics` (the ``results.json`` document), :mod:`~docrec.compare.plots`,
:mod:`~docrec.compare.gallery`, :mod:`~docrec.compare.report`, :mod:`~docrec.compare.study`
(the whole run), :mod:`~docrec.compare.mnist` (Fig. 9) and :mod:`~docrec.compare.global_table`
(Sec. IX). See docs/compare.md.
"""
