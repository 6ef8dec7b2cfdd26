"""Data sets, generated or bundled offline, one sample per row; seeded splits."""

from gradlab.data.sequences import (
    ADDING_CHANCE_MSE,
    SEQUENCE_DATASETS,
    SequenceDataset,
    adding_problem,
    digits_sequences,
    load_sequence_dataset,
    recall_task,
)
from gradlab.data.tabular import DATASETS, Dataset, load_dataset, one_hot

__all__ = [
    "ADDING_CHANCE_MSE",
    "DATASETS",
    "SEQUENCE_DATASETS",
    "Dataset",
    "SequenceDataset",
    "adding_problem",
    "digits_sequences",
    "load_dataset",
    "load_sequence_dataset",
    "one_hot",
    "recall_task",
]
