"""CSV files: a header row, one example per line, numeric or categorical features, one target column.

Every error names the file and, where one is at fault, the 1-based line (as a text editor shows it)
and the column (name and 1-based number).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.data._io import read_bytes
from graphgrad.data.bundle import DataBundle, apply_label_names, check_task, encode_labels
from graphgrad.errors import DataError

_INT = re.compile(r"^[+-]?\d+$")


@dataclass
class _Table:
    path: Path
    header: list[str]
    header_line: int
    rows: list[list[str]]
    lines: list[int]  # line of each row

    def where(self, i: int, j: int) -> str:
        return f"{self.path}, line {self.lines[i]}, column {self.header[j]!r} (column {j + 1})"


def _read_table(path: str | os.PathLike[str], delimiter: str) -> _Table:
    p, raw = read_bytes(path)
    if not raw.strip():
        raise DataError(f"{p}: the file is empty (expected a header row and data rows)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{p}, line {line}: not valid UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row or all(not c.strip() for c in row):
                continue  # blank line
            if header is None:
                header, header_line = _header(p, row, start), start
            elif len(row) != len(header):
                raise DataError(
                    f"{p}, line {start}: ragged row: {len(row)} fields, expected {len(header)} as in the header "
                    f"(line {header_line})"
                )
            else:
                rows.append(row)
                lines.append(start)
    except csv.Error as exc:
        raise DataError(f"{p}, line {reader.line_num}: malformed CSV: {exc}") from exc
    assert header is not None
    if not rows:
        raise DataError(f"{p}: a header (line {header_line}) but no data rows")
    return _Table(p, header, header_line, rows, lines)


def _header(p: Path, row: list[str], line: int) -> list[str]:
    names = [c.strip() or f"column_{j + 1}" for j, c in enumerate(row)]
    dups = sorted(n for n, count in Counter(names).items() if count > 1)
    if dups:
        raise DataError(f"{p}, line {line}: duplicate column names in the header: {dups}")
    return names


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_no_empty(t: _Table, col: tuple[str, ...], j: int) -> None:
    for i, cell in enumerate(col):
        if not cell.strip():
            raise DataError(f"{t.where(i, j)}: empty cell (missing value); fill it in or drop the row")


def _numeric(t: _Table, col: tuple[str, ...], j: int) -> np.ndarray | None:
    """The column as float64, None when most cells are not numbers (a categorical column)."""
    _check_no_empty(t, col, j)
    try:
        values = np.array(col, dtype=np.float64)
    except ValueError:
        numeric = [_is_number(c) for c in col]
        if 2 * sum(numeric) < len(col):
            return None
        i = numeric.index(False)
        raise DataError(
            f"{t.where(i, j)}: non-numeric value {col[i].strip()!r} in a numeric column"
        ) from None
    return values


def _check_finite(t: _Table, values: np.ndarray, j: int, dtype: Any = np.float32) -> None:
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(values.astype(dtype))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "NaN" if np.isnan(values[i]) else "infinite" if np.isinf(values[i]) else "too large for float32"
        raise DataError(f"{t.where(i, j)}: {kind} value {t.rows[i][j].strip()!r}; the data must be finite numbers")


def _not_numeric(t: _Table, col: tuple[str, ...], j: int) -> None:
    for i, cell in enumerate(col):
        if not _is_number(cell):
            raise DataError(f"{t.where(i, j)}: non-numeric value {cell.strip()!r} in a numeric column")


def _one_hot(t: _Table, col: tuple[str, ...], j: int, categories: list[str] | None) -> tuple[np.ndarray, list[str]]:
    values = [c.strip() for c in col]
    cats = sorted(set(values)) if categories is None else categories
    index = {c: k for k, c in enumerate(cats)}
    codes = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if v not in index:
            raise DataError(f"{t.where(i, j)}: category {v!r} was not seen in training; known categories: {cats}")
        codes[i] = index[v]
    out = np.zeros((len(values), len(cats)), dtype=np.float32)
    out[np.arange(len(values)), codes] = 1.0
    return out, cats


def _label_key(cell: str) -> str:
    """A target cell as the class name the encoder gives it (so saved target_names can be matched)."""
    c = cell.strip()
    if _INT.match(c):
        return str(int(c))
    try:
        f = float(c)
    except ValueError:
        return c
    return str(int(f)) if f.is_integer() else str(f)


def _target(t: _Table, j: int, task: str | None) -> tuple[np.ndarray, str, list[str]]:
    col = tuple(r[j] for r in t.rows)
    values = _numeric(t, col, j)
    where = f"{t.path}, target column {t.header[j]!r}"
    if values is None:  # text labels
        if task == "regression":
            _not_numeric(t, col, j)
        y, names = encode_labels(np.array([c.strip() for c in col]), where)
        return y, "classification", names
    _check_finite(t, values, j, np.float64)
    integer = all(_INT.match(c.strip()) for c in col)
    task = task or ("classification" if integer else "regression")
    if task == "regression":
        _check_finite(t, values, j)
        return values.astype(np.float32), task, []
    labels = np.array([int(c) for c in col], dtype=np.int64) if integer else values
    y, names = encode_labels(labels, where)
    return y, task, names


def load_csv(
    path: str | os.PathLike[str],
    target: str | None = None,
    *,
    task: str | None = None,
    delimiter: str = ",",
    schema: dict[str, Any] | None = None,
) -> DataBundle:
    """Load a CSV file with a header row into a :class:`DataBundle`.

    ``target`` names the target column (default: the last one). Feature columns are numbers; a
    column whose cells are mostly not numbers is categorical and is one-hot encoded, one 0/1 feature
    per category in sorted order, named ``column=category``; a stray non-numeric cell in a mostly
    numeric column is an error. The target: integers -> classification (labels 0..K-1 used as
    class indices), other numbers -> regression, text -> classification with the labels numbered in
    sorted order (``target_names`` keeps them); ``task`` overrides the guess.

    ``schema`` (from ``DataBundle.schema()`` of the training data) loads a file for evaluation or
    prediction with the training encoding: same feature columns (any order), same categories and
    labels; the target column may be absent (then ``y`` is None).

    Errors (DataError, with file, line and column): missing or empty file, ragged row, empty or
    non-numeric cell, NaN or inf, unknown target column, unknown category or label under a schema.
    """
    check_task(task)
    t = _read_table(path, delimiter)
    if schema is not None:
        return _load_with_schema(t, schema)
    target = t.header[-1] if target is None else str(target)
    if target not in t.header:
        raise DataError(f"{t.path}: no column named {target!r}; the columns are: {', '.join(t.header)}")
    if len(t.header) < 2:
        raise DataError(f"{t.path}: only the target column {target!r}; need at least one feature column")
    tj = t.header.index(target)
    y, task, target_names = _target(t, tj, task)
    feature_cols = [j for j in range(len(t.header)) if j != tj]
    x, names, categories = _features(t, feature_cols, None)
    return DataBundle(x, y, task, len(target_names) if task == "classification" else 0, names, target_names,
                      t.path.stem, target=target, categories=categories, columns=[t.header[j] for j in feature_cols])


def _features(
    t: _Table, cols: list[int], known: dict[str, list[str]] | None
) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    blocks: list[np.ndarray] = []
    names: list[str] = []
    categories: dict[str, list[str]] = {}
    for j in cols:
        name = t.header[j]
        col = tuple(r[j] for r in t.rows)
        if known is not None and name in known:
            _check_no_empty(t, col, j)
            values = None
        else:
            values = _numeric(t, col, j)
            if values is None and known is not None:
                _not_numeric(t, col, j)  # numeric in training: every cell must be a number
        if values is None:
            block, cats = _one_hot(t, col, j, None if known is None else known[name])
            categories[name] = cats
            blocks.append(block)
            names.extend(f"{name}={c}" for c in cats)
        else:
            _check_finite(t, values, j)
            blocks.append(values.astype(np.float32)[:, None])
            names.append(name)
    return np.concatenate(blocks, axis=1), names, categories


def _load_with_schema(t: _Table, schema: dict[str, Any]) -> DataBundle:
    try:
        columns, target, task = list(schema["columns"]), schema["target"], schema["task"]
        known, target_names = dict(schema["categories"]), list(schema["target_names"])
    except (KeyError, TypeError) as exc:
        raise DataError(f"invalid data schema (from DataBundle.schema()): missing {exc}") from exc
    missing = [c for c in columns if c not in t.header]
    extra = [c for c in t.header if c not in columns and c != target]
    if missing or extra:
        raise DataError(
            f"{t.path}: columns differ from the training data: missing {missing}, unexpected {extra}; "
            f"expected {columns} (and optionally the target {target!r})"
        )
    x, names, categories = _features(t, [t.header.index(c) for c in columns], known)
    y = None
    if target in t.header:
        tj = t.header.index(target)
        col = tuple(r[tj] for r in t.rows)
        if task == "regression":
            _check_no_empty(t, col, tj)
            _not_numeric(t, col, tj)
            values = np.array(col, dtype=np.float64)
            _check_finite(t, values, tj)
            y = values.astype(np.float32)
        else:
            _check_no_empty(t, col, tj)
            y = apply_label_names([_label_key(c) for c in col], target_names,
                                  f"{t.path}, column {target!r}", t.lines)
    return DataBundle(x, y, task, len(target_names) if task == "classification" else 0, names, target_names,
                      t.path.stem, target=target, categories=categories, columns=columns)
