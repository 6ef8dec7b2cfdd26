"""Sequence tasks for recurrent networks, generated offline from a seeded Generator.

Every input has shape (n, T, n_in), one sequence per row; targets are (n, n_out)
for the output at the last step.

``adding`` (Hochreiter & Schmidhuber 1997, experiment 4, in the form of
Le, Jaitly & Hinton 2015 and Arjovsky, Shah & Bengio 2016): channel 0 holds
values u_t ~ U(0, 1), channel 1 marks one step in the first half and one in the
second; the target is the sum of the two marked values.  The sum has mean 1 and
variance 2/12, so always predicting 1 has mean squared error 1/6 ≈ 0.167: the
chance level a network must beat (its quadratic cost ½(ŷ − y)² is then 1/12).

``recall``: step 1 shows one of k symbols, the next ``length`` steps show
distractors drawn from m other symbols; the target is the first symbol
(one-hot over k), so chance accuracy is 1/k and the chance cross-entropy ln k.
The error must cross ``length`` steps to be learned.

``digits_seq``: the bundled 8×8 digits read row by row (T = 8, 8 inputs per step)
or pixel by pixel (T = 64, 1 input per step), a small sequential-MNIST analogue
(Le, Jaitly & Hinton 2015).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradlab.data.tabular import Dataset, load_dataset, one_hot
from gradlab.errors import check_choice, check_number

Array = np.ndarray

SEQUENCE_DATASETS = ("adding", "recall", "digits_seq")
#: How ``digits_seq`` reads an 8×8 image: one row (8 pixels) or one pixel per step.
DIGITS_READS = ("rows", "pixels")
#: Mean squared error of the constant prediction 1 on the adding problem: Var[u + u′] = 2/12.
ADDING_CHANCE_MSE = 1.0 / 6.0


@dataclass(frozen=True)
class SequenceDataset(Dataset):
    """Train and test splits with x of shape (n, T, n_in) and y of shape (n, n_out)."""

    @property
    def n_inputs(self) -> int:
        """n_in, the width of one step's input."""
        return self.x_train.shape[-1]

    @property
    def length(self) -> int:
        """T, the number of steps."""
        return self.x_train.shape[1]


def adding_problem(
    rng: np.random.Generator, n: int, length: int, dtype=np.float64
) -> tuple[Array, Array]:
    """n adding-problem sequences of ``length`` steps.

    Returns
    -------
    x : ndarray, shape (n, length, 2)
        Channel 0: values U(0, 1); channel 1: 1 at the two marked steps, else 0.
    y : ndarray, shape (n, 1)
        The sum of the two marked values.
    """
    n = check_number("data.n_samples", n, integer=True, minimum=1)
    T = check_number("data.length", length, integer=True, minimum=2)
    values = rng.uniform(0.0, 1.0, size=(n, T))
    half = T // 2
    first = rng.integers(0, half, size=n)  # a step in the first half
    second = rng.integers(half, T, size=n)  # and one in the second
    rows = np.arange(n)
    marks = np.zeros((n, T))
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = np.stack([values, marks], axis=-1).astype(dtype)
    y = (values[rows, first] + values[rows, second])[:, None].astype(dtype)
    return x, y


def recall_task(
    rng: np.random.Generator,
    n: int,
    length: int,
    n_symbols: int = 4,
    n_distractors: int = 4,
    dtype=np.float64,
) -> tuple[Array, Array]:
    """n sequences whose target is the symbol shown at step 1, after ``length`` distractors.

    Returns
    -------
    x : ndarray, shape (n, length + 1, n_symbols + n_distractors)
        One-hot steps: step 1 one of the first ``n_symbols`` channels, steps
        2..length + 1 one of the last ``n_distractors`` channels, uniformly.
    y : ndarray, shape (n, n_symbols)
        One-hot of the step-1 symbol.
    """
    n = check_number("data.n_samples", n, integer=True, minimum=1)
    length = check_number("data.length", length, integer=True, minimum=0)
    k = check_number("data.n_symbols", n_symbols, integer=True, minimum=2)
    m = check_number("data.n_distractors", n_distractors, integer=True, minimum=1)
    labels = rng.integers(0, k, size=n)
    codes = np.empty((n, length + 1), dtype=np.int64)  # channel index per step
    codes[:, 0] = labels
    codes[:, 1:] = k + rng.integers(0, m, size=(n, length))
    return one_hot(codes, k + m, dtype), one_hot(labels, k, dtype)


def digits_sequences(x: Array, read: str = "rows") -> Array:
    """(n, 64) digit images → (n, 8, 8) read row by row, or (n, 64, 1) pixel by pixel."""
    check_choice("data.read", read, DIGITS_READS)
    n = x.shape[0]
    # pixel 8r + c of the flattened image is row r, column c
    return x.reshape(n, 8, 8) if read == "rows" else x.reshape(n, 64, 1)


def load_sequence_dataset(
    name: str,
    rng: np.random.Generator,
    *,
    length: int = 50,
    n_samples: int = 1000,
    test_fraction: float = 0.2,
    n_symbols: int = 4,
    n_distractors: int = 4,
    read: str = "rows",
    dtype=np.float64,
) -> SequenceDataset:
    """Train and test splits of a sequence task, x of shape (n, T, n_in).

    ``length``, ``n_samples``, ``n_symbols`` and ``n_distractors`` apply to the
    generated tasks (``n_symbols``/``n_distractors`` to ``recall`` only), whose
    test split is a fresh draw of round(test_fraction · n_samples) sequences;
    ``read`` applies to ``digits_seq``, which splits the 1797 digits as
    :func:`gradlab.data.load_dataset` does.
    """
    check_choice("data.name", name, SEQUENCE_DATASETS)
    frac = check_number("data.test_fraction", test_fraction, minimum=0)
    if frac >= 1:
        raise ValueError(f"data.test_fraction={test_fraction!r} is not allowed; it must be < 1")
    if name == "digits_seq":
        check_choice("data.read", read, DIGITS_READS)
        d = load_dataset("digits", rng, test_fraction=frac, dtype=dtype)
        return SequenceDataset(
            name,
            digits_sequences(d.x_train, read),
            d.y_train,
            digits_sequences(d.x_test, read),
            d.y_test,
        )
    n = check_number("data.n_samples", n_samples, integer=True, minimum=1)
    n_test = round(frac * n)

    def make(count: int) -> tuple[Array, Array]:
        if name == "adding":
            return adding_problem(rng, count, length, dtype)
        return recall_task(rng, count, length, n_symbols, n_distractors, dtype)

    x_train, y_train = make(n)
    x_test, y_test = make(n_test) if n_test > 0 else (x_train[:0], y_train[:0])
    return SequenceDataset(name, x_train, y_train, x_test, y_test)
