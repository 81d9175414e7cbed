"""Data for training: datasets, the DataLoader, splits, standardization, built-in datasets, file loaders.

PyTorch names where PyTorch has them (``Dataset``, ``TensorDataset``, ``Subset``, ``DataLoader``,
``random_split``). Loaders return a :class:`DataBundle`; errors are ``graphgrad.errors.DataError``
(``ConfigError`` for bad settings) whose messages name the file, line and column at fault.
"""

from graphgrad.data._io import DataFileNotFoundError
from graphgrad.data.builtin import DEFAULT_DATASET, dataset_names, load_dataset
from graphgrad.data.bundle import DataBundle
from graphgrad.data.csv_loader import load_csv
from graphgrad.data.dataset import Dataset, Subset, TensorDataset, random_split
from graphgrad.data.files import load_file
from graphgrad.data.idx_loader import load_idx, read_idx
from graphgrad.data.loader import DataLoader, default_collate
from graphgrad.data.npz_loader import load_npz
from graphgrad.data.sampler import DistributedSampler
from graphgrad.data.split import SplitIndices, stratified_split
from graphgrad.data.standardize import Standardizer

__all__ = [
    "DistributedSampler",
    "DEFAULT_DATASET",
    "DataBundle",
    "DataFileNotFoundError",
    "DataLoader",
    "Dataset",
    "SplitIndices",
    "Standardizer",
    "Subset",
    "TensorDataset",
    "dataset_names",
    "default_collate",
    "load_csv",
    "load_dataset",
    "load_file",
    "load_idx",
    "load_npz",
    "random_split",
    "read_idx",
    "stratified_split",
]
