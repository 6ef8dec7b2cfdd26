"""Train an RNN or LSTM on a sequence task and measure the per-time-step diagnostics.

The recurrent counterpart of :mod:`gradlab.training.loop`, pure of I/O in the
same way: ``on_measure`` is called at initialisation, every ``log_every`` steps
and at the end with that step's time table (:func:`gradlab.time_table`, measured
on the first ``probe_size`` training sequences), ``on_step`` after every
optimiser step with its mini-batch cost and pre-clip gradient norm.

One step: BPTT on the mini-batch, Nielsen's L2 weight decay on the weight
matrices (∇W += (λ/n) W), the global gradient norm ‖∇θ‖₂ and, with
``train.clip_norm``, rescaling to that norm (Pascanu, Mikolov & Bengio 2013,
alg. 1), then SGD with momentum or Adam (:mod:`gradlab.training.optim`).  As in
the MLP loop, overflow is data: the first non-finite cost or gradient ends
training and is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gradlab import names
from gradlab.data.sequences import ADDING_CHANCE_MSE, SequenceDataset, load_sequence_dataset
from gradlab.engine.lstm import LSTM
from gradlab.engine.network import resolve_dtype
from gradlab.engine.rnn import RNN
from gradlab.engine.spectral import spectral_norm
from gradlab.engine.time_diagnostics import decay_per_step, time_table
from gradlab.training.optim import make_optimizer, norm_and_clip
from gradlab.training.sequence_spec import SequenceSpec, sequence_spec
from gradlab.training.sgd import minibatches
from gradlab.training.spec import check_batch_size

Array = np.ndarray


@dataclass
class SequenceMeasurement:
    """The diagnostics at one logged step."""

    step: int
    epoch: int
    phase: str
    table: pd.DataFrame  # one row per time step, gradlab.names.TIME_COLUMNS
    train_loss: float  # cost on the probe batch
    test_accuracy: float | None  # classification tasks
    test_mse: float | None  # regression (adding)


@dataclass
class SequenceResult:
    """What a recurrent run produced."""

    measurements: list[SequenceMeasurement] = field(default_factory=list)
    step_log: list[tuple[int, float, float, int]] = field(default_factory=list)
    diverged: bool = False
    diverged_step: int | None = None
    steps: int = 0
    seconds: float = 0.0
    w_hh_norm: float | None = None  # RNN: ‖W_hh‖₂ at initialisation
    w_hh_radius: float | None = None  # RNN: spectral radius of W_hh at initialisation
    sup_prime: float | None = None  # RNN: sup|φ′|

    @property
    def history(self) -> pd.DataFrame:
        """``names.TIME_HISTORY_COLUMNS``: every logged step × time step."""
        frames = [
            m.table.rename(columns={"step": "time_step"}).assign(
                step=m.step, epoch=m.epoch, phase=m.phase
            )
            for m in self.measurements
        ]
        if not frames:
            return pd.DataFrame(columns=list(names.TIME_HISTORY_COLUMNS))
        return pd.concat(frames, ignore_index=True)[list(names.TIME_HISTORY_COLUMNS)]

    @property
    def steps_frame(self) -> pd.DataFrame:
        """``names.STEP_COLUMNS``: one row per optimiser step."""
        return pd.DataFrame(self.step_log, columns=list(names.STEP_COLUMNS))

    @property
    def init(self) -> SequenceMeasurement:
        return self.measurements[0]

    @property
    def final(self) -> SequenceMeasurement | None:
        last = self.measurements[-1]
        return last if last.phase == names.PHASE_FINAL else None

    def summary(self) -> dict[str, float]:
        """The run's summary metrics (``names.SEQUENCE_SUMMARY_METRICS`` that apply)."""
        delta = self.init.table["delta_rms"].to_numpy()
        last = self.measurements[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = {
                names.TIME_VANISH_RATIO: float(delta[0] / delta[-1]),
                names.DECAY_PER_STEP: decay_per_step(self.init.table),
                names.TRAIN_LOSS: float(last.train_loss),
                names.DIVERGED: float(self.diverged),
                names.TRAIN_SECONDS: float(self.seconds),
            }
        if last.test_accuracy is not None:
            out[names.TEST_ACCURACY] = float(last.test_accuracy)
        if last.test_mse is not None:
            out[names.TEST_MSE] = float(last.test_mse)
            out[names.CHANCE_MSE] = ADDING_CHANCE_MSE
            out[names.MSE_RATIO] = float(last.test_mse / ADDING_CHANCE_MSE)
        if self.step_log:
            norms = np.array([s[2] for s in self.step_log])
            out[names.GRAD_NORM_MEDIAN] = float(np.median(norms))
            out[names.GRAD_NORM_MAX] = float(np.max(norms))
            out[names.CLIPPED_FRAC] = float(np.mean([s[3] for s in self.step_log]))
        if self.w_hh_norm is not None:
            out[names.W_HH_SPECTRAL_NORM] = self.w_hh_norm
            out[names.W_HH_SPECTRAL_RADIUS] = self.w_hh_radius
            out[names.BOUND_PER_STEP] = self.sup_prime * self.w_hh_norm
        if self.diverged:
            out[names.DIVERGED_STEP] = float(self.diverged_step)
        return out


def prepare_sequence(cfg: Mapping) -> tuple[SequenceSpec, np.random.Generator, SequenceDataset]:
    """Validate a recurrent training config and generate its data from the run's seed.

    The one generator draws the data first, then (in :func:`train_sequence`) the
    weights, then every epoch's shuffle; ``ValueError`` names any bad key.
    """
    spec = sequence_spec(cfg)
    rng = np.random.default_rng(spec.seed)
    d = spec.data
    data = load_sequence_dataset(
        spec.task,
        rng,
        length=d.get("length", 50),
        n_samples=d.get("n_samples", 1000),
        test_fraction=d["test_fraction"],
        n_symbols=d.get("n_symbols", 4),
        n_distractors=d.get("n_distractors", 4),
        read=d.get("read", "rows"),
        dtype=resolve_dtype(spec.model["dtype"]),
    )
    check_batch_size(spec, data.x_train.shape[0])
    return spec, rng, data


def build_recurrent(spec: SequenceSpec, data: SequenceDataset, rng) -> RNN | LSTM:
    """The RNN or LSTM a spec describes, drawn from ``rng``."""
    m, n_out = spec.model, data.y_train.shape[1]
    if spec.kind == "rnn":
        return RNN(
            data.n_inputs, m["hidden"], n_out, activation=m["activation"], init=m["init"],
            gain=m["gain"], spectral_radius=m["spectral_radius"], bias_std=m["bias_std"],
            seed=rng, dtype=m["dtype"],
        )  # fmt: skip
    return LSTM(
        data.n_inputs, m["hidden"], n_out, forget_bias=m["forget_bias"], init=m["init"],
        gain=m["gain"], seed=rng, dtype=m["dtype"],
    )  # fmt: skip


def targets(y: Array, T: int, outputs: str) -> Array:
    """y (n, n_out) as the network's targets: as is for ``"last"``, repeated at every
    one of the T steps, (n, T, n_out), for ``"all"``."""
    return y if outputs == "last" else np.broadcast_to(y[:, None, :], (y.shape[0], T, y.shape[1]))


def _finite(trace) -> bool:
    grads = trace.grads.values()
    return bool(np.isfinite(trace.cost)) and all(np.all(np.isfinite(g)) for g in grads)


def _update(params, grads, decay, optimizer, spec, n_train: int) -> tuple[float, int]:
    """Weight decay into the gradients, clipping if asked, then the optimiser's step.

    Returns (‖g‖ before clipping, 1 if the step was clipped else 0).
    """
    if spec.weight_decay:
        for g, p, is_w in zip(grads, params, decay, strict=True):
            if is_w:
                g += (spec.weight_decay / n_train) * p
    norm, clipped = norm_and_clip(grads, spec.clip_norm)
    optimizer.step(params, grads)
    return norm, int(clipped)


def train_sequence(
    spec: SequenceSpec,
    data: SequenceDataset,
    rng: np.random.Generator,
    on_measure: Callable[[SequenceMeasurement], None] | None = None,
    on_step: Callable[[int, float, float, int], None] | None = None,
    on_epoch: Callable[[int, SequenceMeasurement], None] | None = None,
) -> SequenceResult:
    """Train ``spec.epochs`` epochs of mini-batches and measure as it goes (module docstring)."""
    check_batch_size(spec, data.x_train.shape[0])
    net = build_recurrent(spec, data, rng)
    T, outputs, n_train = data.length, spec.outputs, data.x_train.shape[0]
    x_probe = data.x_train[: spec.probe_size]
    y_probe = targets(data.y_train[: spec.probe_size], T, outputs)
    keys = list(net.params)
    params = [net.params[k] for k in keys]
    decay = [k.startswith("W") for k in keys]
    optimizer = make_optimizer(spec.optimizer, spec.lr, spec.momentum, spec.betas)
    result = SequenceResult()
    if spec.kind == "rnn":
        w_hh = net.params["W_hh"]
        result.w_hh_norm = float(spectral_norm(w_hh)[0])
        result.w_hh_radius = float(np.max(np.abs(np.linalg.eigvals(w_hh))))
        result.sup_prime = float(net.activation.sup_prime)

    def measure(step: int, epoch: int, phase: str) -> SequenceMeasurement:
        trace = net.backprop(x_probe, y_probe, spec.cost, outputs)
        accuracy = mse = None
        if data.x_test.shape[0]:
            y_hat = net.feedforward(data.x_test, "last")
            if spec.classification:
                accuracy = float(np.mean(y_hat.argmax(axis=1) == data.y_test.argmax(axis=1)))
            else:
                mse = float(np.mean((y_hat - data.y_test) ** 2))
        m = SequenceMeasurement(
            step, epoch, phase, time_table(trace, net), float(trace.cost), accuracy, mse
        )
        result.measurements.append(m)
        if on_measure is not None:
            on_measure(m)
        return m

    total_steps = spec.epochs * -(-n_train // spec.batch_size)
    start = time.perf_counter()
    step = 0
    with np.errstate(all="ignore"):
        last = measure(0, 0, names.PHASE_INIT)
        for epoch in range(1, spec.epochs + 1):
            for idx in minibatches(rng, n_train, spec.batch_size):
                trace = net.backprop(
                    data.x_train[idx], targets(data.y_train[idx], T, outputs), spec.cost, outputs
                )
                if not _finite(trace):
                    result.diverged, result.diverged_step = True, step
                    break
                grads = [trace.grads[k] for k in keys]
                norm, clipped = _update(params, grads, decay, optimizer, spec, n_train)
                step += 1
                result.step_log.append((step, float(trace.cost), norm, clipped))
                if on_step is not None:
                    on_step(step, float(trace.cost), norm, clipped)
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
