"""Data sets, generated or bundled offline, one sample per row; seeded splits."""

from gradlab.data.tabular import DATASETS, Dataset, load_dataset, one_hot

__all__ = ["DATASETS", "Dataset", "load_dataset", "one_hot"]
