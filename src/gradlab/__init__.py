"""gradlab: show, measure and explain vanishing and exploding gradients.

>>> import numpy as np, gradlab
>>> net = gradlab.MLP(sizes=[64, 30, 30, 10], activation="sigmoid", seed=0)
>>> trace = net.backprop(np.zeros((5, 64)), np.zeros((5, 10)), cost="quadratic")
>>> table = gradlab.layer_table(trace, net.weights, *net.activations)

The public API is the engine (:mod:`gradlab.engine`), :func:`train`, the
optimisers (``gradlab.optim``, i.e. :mod:`gradlab.training.optim`) and the theory
namespace; importing it loads none of mlflow, matplotlib, hydra or omegaconf.
"""

from gradlab import theory
from gradlab.data import Dataset, load_dataset
from gradlab.engine.activations import ACTIVATIONS, Activation, get_activation
from gradlab.engine.backprop import Trace, backprop, backward, forward
from gradlab.engine.costs import COSTS, Cost, get_cost
from gradlab.engine.diagnostics import SpectralCache, layer_table
from gradlab.engine.init import INITS, init_biases, init_weights
from gradlab.engine.lstm import LSTM
from gradlab.engine.network import MLP
from gradlab.engine.rnn import RNN
from gradlab.engine.time_diagnostics import time_table
from gradlab.names import COLUMNS, TIME_COLUMNS
from gradlab.training import optim
from gradlab.training.loop import train
from gradlab.version import __version__

__all__ = [
    "ACTIVATIONS",
    "COLUMNS",
    "COSTS",
    "INITS",
    "LSTM",
    "MLP",
    "RNN",
    "TIME_COLUMNS",
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
    "optim",
    "theory",
    "time_table",
    "train",
]
