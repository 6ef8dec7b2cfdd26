"""Train one network and measure the per-layer diagnostics as it learns.

Each step is ``net.backprop`` on a mini-batch, the optional clipping of the
global gradient norm, Nielsen's weight decay and the step of the optimiser
``train.optimizer`` names (:mod:`gradlab.training.optim`).  Pure of I/O: the
caller passes ``on_measure`` (called at initialisation, every ``log_every``
steps and at the end, with that step's layer table) and
``on_epoch`` (one call per epoch for progress), and gets back the whole history.
The diagnostics are measured on a fixed probe batch, the first ``probe_size``
training samples, as Nielsen did with the first 1000 MNIST images (ch. 5); the
probe never moves batch norm's running statistics.  Each layer table also holds
the relative size of the weight updates applied since the previous one
(``names.UPDATE_COLUMNS``).  With batch norm, a last mini-batch of one row is
merged into the batch before it (:func:`gradlab.training.sgd.batch_starts`).

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
from gradlab.engine.diagnostics import SpectralCache, layer_table
from gradlab.engine.network import MLP, resolve_dtype
from gradlab.training.optim import make_optimizer, norm_and_clip
from gradlab.training.sgd import (
    all_finite,
    batch_starts,
    decay_weights,
    first_nonfinite_layer,
    minibatches,
)
from gradlab.training.spec import LSUV, RunSpec, check_batch_size, run_spec

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
    grad_norm: float | None = None  # mean pre-clip ‖g‖ of the steps since the last measurement


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
    grad_norms: list[float] = field(default_factory=list)  # pre-clip ‖g‖ of every step
    clipped: int = 0  # steps whose gradient clipping rescaled
    clip: bool = False  # whether train.clip_norm was set

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
        out[names.GRAD_NORM_MEDIAN] = float(np.median(self.grad_norms)) if self.grad_norms else 0.0
        if self.clip:
            out[names.CLIP_FRACTION] = self.clipped / self.steps if self.steps else 0.0
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
    """The network a spec describes, drawn from ``rng``.

    With ``model.init=lsuv`` the weights are drawn orthogonal, then rescaled by
    ``MLP.lsuv`` on the probe batch, the first ``probe_size`` training samples.
    """
    net = MLP(
        spec.sizes(data.n_inputs, data.n_outputs),
        spec.activation,
        spec.output_activation,
        init="orthogonal" if spec.init == LSUV else spec.init,
        gain=spec.gain,
        bias_std=spec.bias_std,
        seed=rng,
        dtype=spec.dtype,
        residual=spec.residual,
        residual_scale=spec.residual_scale,
        norm=spec.norm,
    )
    if spec.init == LSUV:
        net.lsuv(data.x_train[: spec.probe_size])
    return net


def relative_update(before: list[Array], after: list[Array]) -> Array:
    """‖W_after^l − W_before^l‖_F / ‖W_before^l‖_F for every layer; shape (L,)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.array(
            [np.linalg.norm(a - b) / np.linalg.norm(b) for b, a in zip(before, after, strict=True)]
        )


def _mark_diverged(result: TrainResult, trace, depth: int, step: int) -> None:
    """Record that the step's trace is not finite, and the first layer where it is not."""
    where = first_nonfinite_layer(trace) or (depth + 1, "backward")
    result.diverged = True
    result.diverged_step = step
    result.diverged_layer, result.diverged_where = where


def _update(net, params, optimizer, trace, spec: RunSpec, n_train: int, result) -> np.ndarray:
    """One update from ``trace``: the gradient's norm (clipped if asked), decay, the step.

    Appends ‖g‖ (before clipping) to ``result.grad_norms`` and counts clipped steps;
    returns ‖ΔW^l‖/‖W^l‖ of this update per layer, shape (L,).
    """
    grads = trace.gradients()
    norm, clipped = norm_and_clip(grads, spec.clip_norm)
    result.grad_norms.append(norm)
    result.clipped += clipped
    before = [w.copy() for w in net.weights]
    decay_weights(net.weights, spec.lr, spec.weight_decay, n_train)
    optimizer.step(params, grads)
    return relative_update(before, net.weights)


def train(
    spec: RunSpec,
    data: Dataset,
    rng: np.random.Generator,
    on_measure: Callable[[Measurement], None] | None = None,
    on_epoch: Callable[[int, Measurement], None] | None = None,
) -> TrainResult:
    """Train for ``spec.epochs`` epochs of mini-batches and measure as it goes.

    Parameters
    ----------
    spec : RunSpec
        Validated config.
    data : Dataset
        Train/test arrays in the dtype of ``spec``.
    rng : np.random.Generator
        Draws the initial weights (and LSUV's orthogonal start), then shuffles
        every epoch.
    on_measure, on_epoch : callable, optional
        Streaming hooks (tracking, progress); see the module docstring.
    """
    check_batch_size(spec, data.x_train.shape[0])
    net = build_network(spec, data, rng)
    params = net.parameters()
    optimizer = make_optimizer(spec.optimizer, spec.lr, spec.momentum, spec.betas)
    x_probe = data.x_train[: spec.probe_size]
    y_probe = data.y_train[: spec.probe_size]
    labels_test = data.y_test.argmax(axis=1) if data.x_test.shape[0] else None
    spectral = SpectralCache()
    result = TrainResult(clip=spec.clip_norm is not None)
    n_train = data.x_train.shape[0]
    min_rows = 2 if spec.norm == "batch" else 1
    # Σ over the steps since the last measurement of ‖ΔW^l‖/‖W^l‖, and how many steps
    ratio_sum = np.zeros(net.num_layers)
    ratio_steps = 0

    def measure(step: int, epoch: int, phase: str) -> Measurement:
        nonlocal ratio_sum, ratio_steps
        trace = net.backprop(x_probe, y_probe, spec.cost, update_running=False)
        accuracy = None
        if labels_test is not None:
            a_out = net.feedforward(data.x_test) if all_finite(trace) else None
            accuracy = (
                float(np.mean(a_out.argmax(axis=1) == labels_test))
                if a_out is not None
                else float("nan")
            )
        table = layer_table(trace, net.weights, net.hidden, net.output, spectral)
        table["update_ratio"] = ratio_sum / ratio_steps if ratio_steps else np.nan
        norms = result.grad_norms[len(result.grad_norms) - ratio_steps :] if ratio_steps else []
        ratio_sum, ratio_steps = np.zeros(net.num_layers), 0
        grad_norm = float(np.mean(norms)) if norms else None
        m = Measurement(step, epoch, phase, table, float(trace.cost), accuracy, grad_norm)
        result.measurements.append(m)
        if on_measure is not None:
            on_measure(m)
        return m

    total_steps = spec.epochs * len(batch_starts(n_train, spec.batch_size, min_rows))
    start = time.perf_counter()
    step = 0
    with np.errstate(all="ignore"):
        last = measure(0, 0, names.PHASE_INIT)
        for epoch in range(1, spec.epochs + 1):
            for idx in minibatches(rng, n_train, spec.batch_size, min_rows):
                trace = net.backprop(data.x_train[idx], data.y_train[idx], spec.cost)
                if not all_finite(trace):
                    _mark_diverged(result, trace, spec.depth, step)
                    break
                ratio_sum += _update(net, params, optimizer, trace, spec, n_train, result)
                ratio_steps += 1
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
