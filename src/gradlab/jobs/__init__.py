"""Hydra glue: the bodies of the ``experiments/`` entry points, the sweep callback,
signal handling.  The only layer that knows about Hydra."""
