"""gradlab: show, measure and explain vanishing and exploding gradients.

>>> import numpy as np, gradlab
>>> net = gradlab.MLP(sizes=[64, 30, 30, 10], activation="sigmoid", seed=0)
>>> trace = net.backprop(np.zeros((5, 64)), np.zeros((5, 10)), cost="quadratic")
>>> table = gradlab.layer_table(trace, net.weights, *net.activations)
"""

from importlib.metadata import PackageNotFoundError, version

from gradlab.activations import ACTIVATIONS, Activation, get_activation
from gradlab.backprop import Trace, backprop, backward, forward
from gradlab.costs import COSTS, Cost, get_cost
from gradlab.data import Dataset, load_dataset
from gradlab.diagnostics import COLUMNS, SpectralCache, layer_table
from gradlab.init import INITS, init_biases, init_weights
from gradlab.network import MLP

try:
    __version__ = version("gradlab")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "ACTIVATIONS",
    "COLUMNS",
    "COSTS",
    "INITS",
    "MLP",
    "Activation",
    "Cost",
    "Dataset",
    "SpectralCache",
    "Trace",
    "__version__",
    "backprop",
    "backward",
    "forward",
    "get_activation",
    "get_cost",
    "init_biases",
    "init_weights",
    "layer_table",
    "load_dataset",
]
