"""The NumPy backprop engine: activations, costs, inits, the four equations, diagnostics.

Pure NumPy (and pandas for the per-layer table): no tracking, plotting or config
code.  Batches are rows throughout; see :mod:`gradlab.engine.backprop`.
"""
