"""The report: runs read back from MLflow -> tidy tables -> figures and Markdown.

Each figure family has a pure function (run table -> DataFrame) and a thin draw
function; :func:`gradlab.report.build.make_report` writes them all.
"""
