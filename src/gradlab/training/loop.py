"""Train one network with SGD and measure the per-layer diagnostics as it learns.

Pure of I/O: the caller passes ``on_measure`` (called at initialisation, every
``log_every`` SGD steps and at the end, with that step's layer table) and
``on_epoch`` (one call per epoch for progress), and gets back the whole history.
The diagnostics are measured on a fixed probe batch, the first ``probe_size``
training samples, as Nielsen did with the first 1000 MNIST images (ch. 5).

Exploding gradients are what this suite studies, so overflow is data: the
training loop runs under ``np.errstate(all="ignore")`` and checks the cost and
every gradient for NaN/inf after each step; the first non-finite step ends
training and is reported, it is never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gradlab import names
from gradlab.data import Dataset, load_dataset
from gradlab.engine.backprop import backprop
from gradlab.engine.costs import get_cost
from gradlab.engine.diagnostics import SpectralCache, layer_table
from gradlab.engine.network import MLP, resolve_dtype
from gradlab.training.sgd import all_finite, first_nonfinite_layer, minibatches, sgd_update
from gradlab.training.spec import RunSpec, check_batch_size, run_spec

Array = np.ndarray


@dataclass
class Measurement:
    """The diagnostics at one logged step."""

    step: int
    epoch: int
    phase: str
    table: pd.DataFrame  # one row per layer, gradlab.names.COLUMNS
    train_loss: float
    test_accuracy: float | None


@dataclass
class TrainResult:
    """What a run produced; ``history`` has columns ``names.HISTORY_COLUMNS``."""

    measurements: list[Measurement] = field(default_factory=list)
    diverged: bool = False
    diverged_step: int | None = None
    diverged_layer: int | None = None
    diverged_where: str | None = None
    steps: int = 0
    seconds: float = 0.0

    @property
    def history(self) -> pd.DataFrame:
        frames = [
            m.table.assign(step=m.step, epoch=m.epoch, phase=m.phase) for m in self.measurements
        ]
        if not frames:
            return pd.DataFrame(columns=list(names.HISTORY_COLUMNS))
        return pd.concat(frames, ignore_index=True)[list(names.HISTORY_COLUMNS)]

    @property
    def init(self) -> Measurement:
        return self.measurements[0]

    @property
    def final(self) -> Measurement | None:
        last = self.measurements[-1]
        return last if last.phase == names.PHASE_FINAL else None

    def summary(self) -> dict[str, float]:
        """The run's summary metrics (names.SUMMARY_METRICS and divergence details)."""
        g = self.init.table["grad_b_norm"].to_numpy()
        L = g.size
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = g[0] / g[-1]
            # geometric mean of ‖∇b^l‖/‖∇b^{l+1}‖ over l = 1..L−1 telescopes to ratio^{1/(L−1)}
            decay = ratio ** (1.0 / (L - 1)) if L > 1 else 1.0
        last = self.measurements[-1]
        out = {
            names.VANISH_RATIO: float(ratio),
            names.DECAY_PER_LAYER: float(decay),
            names.TRAIN_LOSS: float(last.train_loss),
            names.DIVERGED: float(self.diverged),
            names.TRAIN_SECONDS: float(self.seconds),
        }
        if last.test_accuracy is not None:
            out[names.TEST_ACCURACY] = float(last.test_accuracy)
        if self.diverged:
            out[names.DIVERGED_STEP] = float(self.diverged_step)
            out[names.DIVERGED_LAYER] = float(self.diverged_layer)
        return out


def prepare(cfg: Mapping) -> tuple[RunSpec, np.random.Generator, Dataset]:
    """Validate a training config and load its data with the run's one generator.

    The generator, seeded from ``seed``, draws the train/test split first, then
    (in :func:`train`) the weights, then every epoch's shuffle; raises
    ``ValueError`` naming the key for any bad value, including a batch larger
    than the training set.
    """
    spec = run_spec(cfg)
    rng = np.random.default_rng(spec.seed)
    data = load_dataset(
        spec.data_name,
        rng,
        test_fraction=spec.test_fraction,
        n_samples=spec.n_samples,
        n_inputs=spec.n_inputs,
        n_outputs=spec.n_outputs,
        dtype=resolve_dtype(spec.dtype),
    )
    check_batch_size(spec, data.x_train.shape[0])
    return spec, rng, data


def build_network(spec: RunSpec, data: Dataset, rng: np.random.Generator) -> MLP:
    """The network a spec describes, drawn from ``rng``."""
    return MLP(
        spec.sizes(data.n_inputs, data.n_outputs),
        spec.activation,
        spec.output_activation,
        init=spec.init,
        gain=spec.gain,
        bias_std=spec.bias_std,
        seed=rng,
        dtype=spec.dtype,
    )


def train(
    spec: RunSpec,
    data: Dataset,
    rng: np.random.Generator,
    on_measure: Callable[[Measurement], None] | None = None,
    on_epoch: Callable[[int, Measurement], None] | None = None,
) -> TrainResult:
    """Run mini-batch SGD for ``spec.epochs`` epochs and measure as it goes.

    Parameters
    ----------
    spec : RunSpec
        Validated config.
    data : Dataset
        Train/test arrays in the dtype of ``spec``.
    rng : np.random.Generator
        Draws the initial weights, then shuffles every epoch.
    on_measure, on_epoch : callable, optional
        Streaming hooks (tracking, progress); see the module docstring.
    """
    check_batch_size(spec, data.x_train.shape[0])
    net = build_network(spec, data, rng)
    cost = get_cost(spec.cost)
    hidden, output = net.hidden, net.output
    x_probe = data.x_train[: spec.probe_size]
    y_probe = data.y_train[: spec.probe_size]
    labels_test = data.y_test.argmax(axis=1) if data.x_test.shape[0] else None
    spectral = SpectralCache()
    result = TrainResult()
    n_train = data.x_train.shape[0]

    def measure(step: int, epoch: int, phase: str) -> Measurement:
        trace = backprop(net.weights, net.biases, x_probe, y_probe, cost, hidden, output)
        accuracy = None
        if labels_test is not None:
            a_out = net.feedforward(data.x_test) if all_finite(trace) else None
            accuracy = (
                float(np.mean(a_out.argmax(axis=1) == labels_test))
                if a_out is not None
                else float("nan")
            )
        table = layer_table(trace, net.weights, hidden, output, spectral)
        m = Measurement(step, epoch, phase, table, float(trace.cost), accuracy)
        result.measurements.append(m)
        if on_measure is not None:
            on_measure(m)
        return m

    batches_per_epoch = -(-n_train // spec.batch_size)
    total_steps = spec.epochs * batches_per_epoch
    start = time.perf_counter()
    step = 0
    with np.errstate(all="ignore"):
        last = measure(0, 0, names.PHASE_INIT)
        for epoch in range(1, spec.epochs + 1):
            for idx in minibatches(rng, n_train, spec.batch_size):
                trace = backprop(
                    net.weights, net.biases, data.x_train[idx], data.y_train[idx],
                    cost, hidden, output,
                )  # fmt: skip
                if not all_finite(trace):
                    where = first_nonfinite_layer(trace) or (spec.depth + 1, "backward")
                    result.diverged = True
                    result.diverged_step = step
                    result.diverged_layer, result.diverged_where = where
                    break
                sgd_update(net.weights, net.biases, trace, spec.lr, spec.weight_decay, n_train)
                step += 1
                if step % spec.log_every == 0 and step < total_steps:
                    last = measure(step, epoch, names.PHASE_TRAIN)
            if result.diverged:
                break
            if step == total_steps:
                last = measure(step, epoch, names.PHASE_FINAL)
            if on_epoch is not None:
                on_epoch(epoch, last)
        result.steps = step
    result.seconds = time.perf_counter() - start
    return result
