"""Everything MLflow: the client and store, writing a run, reading runs back.

Nothing here computes science; metric names come from :mod:`gradlab.names`.
"""
