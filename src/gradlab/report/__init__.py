"""The report: runs read back from MLflow -> tidy tables -> figures and Markdown.

One module per figure family, each with a pure function (run table or history
-> tidy DataFrame) and a thin draw function: ``layer_data``/``layer_figures``
(figures 1, 1b, 4), ``vanishing`` (2), ``speed`` (3a, 3b), ``delta_vs_layer``
(6), ``phase_diagram`` (7), ``jacobian`` (8), ``nielsen`` (9), ``exploding``
(10).  ``frames`` holds the shared frame helpers, ``style`` the look,
``load``/``presets`` which runs each figure reads, ``catalog`` the file names
and captions, ``markdown`` the words of ``index.md``, and
:func:`gradlab.report.build.make_report` writes them all.
"""
