"""Training one network: the validated run spec, the SGD step, the training loop.

No MLflow and no Hydra: :func:`gradlab.training.loop.train` takes a
:class:`~gradlab.training.spec.RunSpec` and hooks, and returns the history.
"""
