"""CSV files: a header row, one example per line, numeric or text features, one target column.

How columns are treated (also in the README):

- A cell is missing when it is empty or ``NA``, ``NaN``, ``null``, ``?`` (any case), in every
  column type. ``missing="error"`` refuses the file, counting the missing cells per column;
  ``"drop"`` leaves out rows with a missing cell; ``"fill"`` leaves out rows whose *target* is
  missing and marks missing feature cells as NaN, to be filled with statistics of the training
  split (:class:`~graphgrad.data.missing.MissingFiller`).
- A feature column whose present cells are all numbers is numeric; a column whose cells are
  mostly not numbers is text and is one-hot encoded (one 0/1 feature per category, sorted,
  named ``column=category``); a stray text cell in a mostly numeric column is an error.
- Text columns that look like identifiers (more than ``MAX_CATEGORIES`` distinct values, or
  more than half of the rows distinct) or like dates are refused, naming them and ``drop``; so
  are integer columns named like identifiers (``id``, ``PassengerId``, ``index``, a saved
  index's empty or ``Unnamed: 0`` header) that number the rows (1, 2, 3, ... down the whole
  file), unless they are named in ``features``. Only both together: ``x`` = 0, 1, 2, ... is a
  legitimate feature.
- The target decides the task (:func:`~graphgrad.data.bundle.decide_task`) unless ``task`` is given.

Every error names the file and, where one is at fault, the 1-based line (as a text editor shows it)
and the column (name and 1-based number).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.data._io import read_bytes
from graphgrad.data.bundle import DataBundle, apply_label_names, check_task, decide_task, encode_labels
from graphgrad.data.missing import MISSING_HELP, is_missing
from graphgrad.errors import DataError

_INT = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})([ T]\d{1,2}:\d{2})?")
_ID_WORD = re.compile(r"(^|[^a-z])(id|idx|index|row|rownum|row_number)$", re.IGNORECASE)  # id, user_id, row
_ID_CAMEL = re.compile(r"[a-z](Id|ID)$")  # PassengerId, customerID
_SAVED_INDEX = re.compile(r"^(unnamed: ?\d+|column_1)$", re.IGNORECASE)  # pandas' index; an empty header
INT64_MAX = 2**63 - 1
MAX_CATEGORIES = 100  # a text column with more distinct values is treated as an identifier
MIN_ROWS_FOR_ROW_NUMBERS = 20  # a shorter column counting up by one may be a real feature
MAX_ENCODED_BYTES = 2 * 1024**3  # the encoded float32 feature matrix may not be larger
MISSING_POLICIES = ("error", "drop", "fill")


@dataclass
class _Table:
    path: Path
    header: list[str]
    header_line: int
    rows: list[list[str]]  # stripped cells
    lines: list[int]  # line of each row

    def where(self, i: int, j: int) -> str:
        return f"{self.path}, line {self.lines[i]}, column {self.header[j]!r} (column {j + 1})"

    def column(self, j: int) -> list[str]:
        return [r[j] for r in self.rows]


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
                header, header_line = _header(p, row, start, delimiter), start
            elif len(row) != len(header):
                raise DataError(
                    f"{p}, line {start}: ragged row: {len(row)} fields, expected {len(header)} as in the header "
                    f"(line {header_line})"
                )
            else:
                rows.append([c.strip() for c in row])
                lines.append(start)
    except csv.Error as exc:
        raise DataError(f"{p}, line {reader.line_num}: malformed CSV: {exc}") from exc
    assert header is not None
    if not rows:
        raise DataError(f"{p}: a header (line {header_line}) but no data rows")
    return _Table(p, header, header_line, rows, lines)


def _header(p: Path, row: list[str], line: int, delimiter: str = ",") -> list[str]:
    seps = [sep for sep in ";\t|" if sep != delimiter and len(row) == 1 and row[0].count(sep) >= 1]
    if seps:  # one column whose name holds another separator: say so rather than "ragged row" later
        raise DataError(f"{p}, line {line}: the header is one column, {row[0][:60]!r}; the file looks separated by "
                        f"{seps[0]!r}, and CSV files are read with {delimiter!r} between columns: save it with "
                        "commas (and '.' as the decimal point)")
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


# ------------------------------------------------------------------------------ missing cells
def _missing_mask(t: _Table, cols: Sequence[int]) -> np.ndarray:
    """(rows, len(cols)) bool: which cells of those columns are missing."""
    return np.array([[is_missing(r[j]) for j in cols] for r in t.rows], dtype=bool).reshape(len(t.rows), len(cols))


def _refuse_missing(t: _Table, cols: Sequence[int], mask: np.ndarray) -> None:
    counts = mask.sum(axis=0)
    parts = [f"{t.header[j]!r} {int(c)}" for j, c in zip(cols, counts) if c]
    i, k = np.argwhere(mask)[0]
    raise DataError(
        f"{t.path}: {int(counts.sum())} missing value(s) in {len(parts)} column(s): "
        f"{', '.join(parts)}; the first at {t.where(int(i), cols[int(k)])}; missing means {MISSING_HELP}; "
        "choose --missing drop (leave those rows out) or --missing fill (column mean or most frequent value)"
    )


def _keep_rows(t: _Table, keep: np.ndarray) -> _Table:
    idx = np.flatnonzero(keep)
    return _Table(t.path, t.header, t.header_line, [t.rows[i] for i in idx], [t.lines[i] for i in idx])


# ------------------------------------------------------------------------------ columns
def _numeric(t: _Table, j: int, present: list[int]) -> np.ndarray | None:
    """The column as float64 (NaN where missing), None when most present cells are not numbers."""
    col = t.column(j)
    values = np.full(len(col), np.nan)
    bad = []
    for i in present:
        try:
            values[i] = float(col[i])
        except ValueError:
            bad.append(i)
    if bad:
        if 2 * len(bad) > len(present):
            return None
        i = bad[0]
        raise DataError(f"{t.where(i, j)}: non-numeric value {col[i]!r} in a numeric column")
    return values


def _check_finite(t: _Table, values: np.ndarray, j: int, dtype: Any = np.float32) -> None:
    with np.errstate(over="ignore"):
        bad = np.isinf(values.astype(dtype))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "infinite" if np.isinf(values[i]) else "too large for float32"
        raise DataError(f"{t.where(i, j)}: {kind} value {t.rows[i][j]!r}; the data must be finite numbers")


def _looks_like(t: _Table, j: int, present: list[int], values: set[str]) -> str | None:
    """``"dates"`` or ``"identifiers"`` for text columns that should not be one-hot encoded."""
    col = t.column(j)
    sample = [col[i] for i in present[:1000]]
    if sample and sum(bool(_DATE.match(c)) for c in sample) >= 0.9 * len(sample):
        return "dates"
    if len(values) > MAX_CATEGORIES or (len(values) >= 20 and 2 * len(values) > len(present)):
        return "identifiers"
    return None


def _one_hot(t: _Table, j: int, cats: list[str], missing: np.ndarray) -> tuple[np.ndarray, int]:
    """One 0/1 column per category; a missing cell gives a row of NaN, an unseen category zeros.
    Returns the block and the number of unseen cells."""
    index = {c: k for k, c in enumerate(cats)}
    col = t.column(j)
    out = np.zeros((len(col), len(cats)), dtype=np.float32)
    unseen = 0
    for i, v in enumerate(col):
        if missing[i]:
            out[i] = np.nan
        elif v in index:
            out[i, index[v]] = 1.0
        else:
            unseen += 1
    return out, unseen


def _label_key(cell: str) -> str:
    """A target cell as the class name the encoder gives it (so saved target_names can be matched)."""
    if _INT.match(cell):
        return str(int(cell))
    try:
        f = float(cell)
    except ValueError:
        return cell
    return str(int(f)) if f.is_integer() else str(f)


def _target(t: _Table, j: int, task: str | None) -> tuple[np.ndarray, str, list[str], str]:
    col = t.column(j)
    name = t.header[j]
    present = list(range(len(col)))
    values = _numeric(t, j, present)
    where = f"{t.path}, target column {name!r}"
    if values is None:  # text labels
        if task == "regression":
            i = next(i for i, c in enumerate(col) if not _is_number(c))
            raise DataError(f"{t.where(i, j)}: non-numeric value {col[i]!r} in a regression target")
        decided, reason = decide_task(name, "text", len(set(col)), task)
        y, names = encode_labels(np.array(col), where)
        return y, decided, names, reason
    _check_finite(t, values, j, np.float64)
    integer = all(_INT.match(c) for c in col)
    decided, reason = decide_task(name, "integer" if integer else "decimal", len(set(values.tolist())), task)
    if decided == "regression":
        return values, decided, [], reason
    if integer:
        big = [i for i, c in enumerate(col) if abs(int(c)) > INT64_MAX]
        if big:
            raise DataError(f"{t.where(big[0], j)}: integer {col[big[0]]} is too large to be a class label "
                            "(64-bit integers); use --task regression or text labels")
        labels: np.ndarray = np.array([int(c) for c in col], dtype=np.int64)
    else:
        labels = values
    y, names = encode_labels(labels, where)
    return y, decided, names, reason


def _numbers_rows(t: _Table, j: int) -> tuple[int, int] | None:
    """(first, last) when column ``j`` is named like an identifier and holds integers counting up
    by one down the whole file."""
    name = t.header[j].strip()
    if not (_ID_WORD.search(name) or _ID_CAMEL.search(name) or _SAVED_INDEX.match(name)):
        return None
    col = t.column(j)
    if len(col) < MIN_ROWS_FOR_ROW_NUMBERS or not all(_INT.match(c) for c in col):
        return None
    values = np.array([int(c) for c in col], dtype=object)
    if not np.all(values[1:] - values[:-1] == 1):
        return None
    return int(values[0]), int(values[-1])


_FORMATTING = re.compile(r"[,%$€£\s_']")  # thousands separators, units: '1,600', '25.5%', '$3'


def _refuse_identifier_columns(t: _Table, cols: list[int], chosen: Sequence[str]) -> None:
    """Refuse text columns that look like identifiers or dates, and integer columns that number
    the rows (unless named in ``chosen``, the user's --features), naming them and --drop."""
    suspicious: dict[str, list[str]] = {"identifiers": [], "dates": [], "row numbers": []}
    refused: list[str] = []
    formatted: list[str] = []
    for j in cols:
        present = [i for i, r in enumerate(t.rows) if not is_missing(r[j])]
        numbers = sum(_is_number(t.rows[i][j]) for i in present)
        if 2 * numbers >= len(present):  # numeric (a stray text cell is reported later, with its line)
            counted = None if t.header[j] in chosen else _numbers_rows(t, j)
            if counted:
                suspicious["row numbers"].append(f"{t.header[j]!r} ({counted[0]} to {counted[1]})")
                refused.append(t.header[j])
            continue
        if present and 2 * sum(_is_number(_FORMATTING.sub("", t.rows[i][j])) for i in present) >= len(present):
            formatted.append(f"{t.header[j]!r} (e.g. {t.rows[present[0]][j]!r})")
            continue
        values = {t.rows[i][j] for i in present}
        looks = _looks_like(t, j, present, values)
        if looks:
            suspicious[looks].append(f"{t.header[j]!r} ({len(values)} distinct values in {len(present)} rows)")
            refused.append(t.header[j])
    if formatted:
        raise DataError(f"{t.path}: columns of numbers written with separators or units: {', '.join(formatted)}; "
                        "write them as plain numbers (1600, 25.5), or leave them out with --drop")
    if refused:
        said = "; ".join(f"like {what}: {', '.join(c)}" for what, c in suspicious.items() if c)
        raise DataError(
            f"{t.path}: columns that look {said}; they would be features that cannot generalize. "
            f"Leave them out with --drop {','.join(refused)} (or list the columns to use with --features)"
        )


def _features(
    t: _Table, cols: list[int], missing: np.ndarray, known: dict[str, list[str]] | None
) -> tuple[np.ndarray, list[str], dict[str, list[str]], dict[str, int]]:
    """Encode the feature columns. ``known`` (from a training schema) fixes which columns are text
    and their categories; without it they are decided here and identifier-like ones are refused."""
    n = len(t.rows)
    kinds: list[tuple[int, np.ndarray | None, list[str]]] = []
    for k, j in enumerate(cols):
        name = t.header[j]
        present = [i for i in range(n) if not missing[i, k]]
        if known is not None:
            if name in known:
                kinds.append((j, None, known[name]))
                continue
            values = _numeric(t, j, present)
            if values is None:  # numeric in training: every present cell must be a number
                i = next(i for i in present if not _is_number(t.rows[i][j]))
                raise DataError(f"{t.where(i, j)}: non-numeric value {t.rows[i][j]!r} in a numeric column")
            kinds.append((j, values, []))
            continue
        values = _numeric(t, j, present)
        if values is not None:
            kinds.append((j, values, []))
            continue
        kinds.append((j, None, sorted({t.rows[i][j] for i in present})))
    width = sum(1 if values is not None else len(cats) for _, values, cats in kinds)
    size = n * width * 4
    if size > MAX_ENCODED_BYTES:
        raise DataError(f"{t.path}: encoding {n} rows x {width} features needs {size / 1024**3:.1f} GB "
                        f"(more than {MAX_ENCODED_BYTES / 1024**3:.0f} GB); leave text columns out with --drop")
    blocks: list[np.ndarray] = []
    names_out: list[str] = []
    categories: dict[str, list[str]] = {}
    unseen: dict[str, int] = {}
    for j, values, cats in kinds:
        name = t.header[j]
        if values is None:
            block, n_unseen = _one_hot(t, j, cats, missing[:, cols.index(j)])
            categories[name] = cats
            if n_unseen:
                unseen[name] = n_unseen
            blocks.append(block)
            names_out.extend(f"{name}={c}" for c in cats)
        else:
            _check_finite(t, values, j)
            blocks.append(values.astype(np.float32)[:, None])
            names_out.append(name)
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0), dtype=np.float32)
    return x, names_out, categories, unseen


def _choose_columns(t: _Table, target: str | None, drop: Sequence[str], features: Sequence[str] | None) -> list[int]:
    named = [*drop, *(features or [])]
    unknown = [c for c in named if c not in t.header]
    if unknown:
        raise DataError(f"{t.path}: no column named {', '.join(map(repr, unknown))}; the columns are: "
                        f"{', '.join(t.header)}")
    if target is not None and target in drop:
        raise DataError(f"{t.path}: --drop names the target column {target!r}")
    if features is not None:
        if target in features:
            raise DataError(f"{t.path}: --features names the target column {target!r}")
        cols = [t.header.index(c) for c in features if c not in drop]
    else:
        cols = [j for j, c in enumerate(t.header) if c != target and c not in drop]
    if not cols:
        raise DataError(f"{t.path}: no feature columns left (target {target!r}, dropped {list(drop)})")
    return cols


def load_csv(
    path: str | os.PathLike[str],
    target: str | None = None,
    *,
    task: str | None = None,
    delimiter: str = ",",
    schema: dict[str, Any] | None = None,
    drop: Sequence[str] = (),
    features: Sequence[str] | None = None,
    missing: str = "error",
    with_target: bool = True,
) -> DataBundle:
    """Load a CSV file with a header row into a :class:`DataBundle` (see the module docstring).

    ``target`` names the target column (default: the last one); ``task`` is ``"auto"`` (or None),
    ``"classification"`` or ``"regression"``. ``drop`` leaves columns out; ``features`` lists the
    only feature columns to use. ``missing`` is ``"error"``, ``"drop"`` or ``"fill"``.

    ``schema`` (from ``DataBundle.schema()`` of the training data) loads a file for evaluation or
    prediction with the training encoding: the same feature columns (any order; other columns are
    ignored), the same categories (an unseen one encodes as all zeros and is counted in
    ``unseen``) and labels. The target column may be absent (then ``y`` is None); with
    ``with_target=False`` it is ignored (prediction), so no row is ever left out for it.
    """
    if missing not in MISSING_POLICIES:
        raise DataError(f"missing must be one of {list(MISSING_POLICIES)}, got {missing!r}")
    t = _read_table(path, delimiter)
    if schema is not None:
        return _load_with_schema(t, schema, missing, with_target)
    task = check_task(task)
    target = t.header[-1] if target is None else str(target)
    if target not in t.header:
        raise DataError(f"{t.path}: no column named {target!r}; the columns are: {', '.join(t.header)}")
    if len(t.header) < 2:
        raise DataError(f"{t.path}: only the target column {target!r}; need at least one feature column")
    tj = t.header.index(target)
    cols = _choose_columns(t, target, drop, features)
    _refuse_identifier_columns(t, cols, features or ())  # before missing values: the column choice comes first
    t, mask, n_dropped, counts = _apply_missing(t, [tj, *cols], missing, target_first=True)
    y, task, target_names, reason = _target(t, tj, task)
    x, names, categories, _ = _features(t, cols, mask[:, 1:], None)
    return DataBundle(x, y, task,
                      len(target_names) if task == "classification" else 0, names, target_names,
                      t.path.stem, target=target, categories=categories, columns=[t.header[j] for j in cols],
                      task_reason=reason, n_dropped=n_dropped, missing=counts)


def _apply_missing(
    t: _Table, cols: list[int], missing: str, target_first: bool
) -> tuple[_Table, np.ndarray, int, dict[str, int]]:
    """Apply the policy: refuse, or drop rows (all missing rows for "drop"; for "fill" only rows
    whose target, ``cols[0]`` when ``target_first``, is missing). Returns the kept table, its
    missing mask over ``cols``, the number of rows left out and the missing cells per column."""
    mask = _missing_mask(t, cols)
    counts = {t.header[j]: int(c) for j, c in zip(cols, mask.sum(axis=0)) if c}
    if not mask.any():
        return t, mask, 0, counts
    if missing == "error":
        _refuse_missing(t, cols, mask)
    if missing == "drop":
        keep = np.asarray(~mask.any(axis=1))
    else:
        keep = np.asarray(~mask[:, 0]) if target_first else np.ones(len(t.rows), dtype=bool)
    if not keep.any():
        raise DataError(f"{t.path}: every row has a missing value; nothing is left to use")
    return _keep_rows(t, keep), mask[keep], int((~keep).sum()), counts


def _some(names: Sequence[str], shown: int = 8) -> str:
    """The first few names quoted, and how many more: an error line stays readable."""
    listed = ", ".join(map(repr, names[:shown]))
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown} more"


def _load_with_schema(t: _Table, schema: dict[str, Any], missing: str, with_target: bool) -> DataBundle:
    try:
        columns, target, task = list(schema["columns"]), schema["target"], schema["task"]
        known, target_names = dict(schema["categories"]), list(schema["target_names"])
    except (KeyError, TypeError) as exc:
        raise DataError(f"invalid data schema (from DataBundle.schema()): missing {exc}") from exc
    absent = [c for c in columns if c not in t.header]
    if absent:
        raise DataError(
            f"{t.path}: columns differ from the training data: missing {len(absent)} of its {len(columns)} "
            f"feature columns: {_some(absent)} (and optionally the target {target!r})"
        )
    cols = [t.header.index(c) for c in columns]
    has_target = with_target and target in t.header
    tj = t.header.index(target) if has_target else -1
    if has_target:
        t, mask, n_dropped, counts = _apply_missing(t, [tj, *cols], missing, target_first=True)
        mask = mask[:, 1:]
    else:  # prediction: every row gets an answer, so "drop" only marks rows (NaN) here
        t, mask, n_dropped, counts = _apply_missing(t, cols, "fill" if missing == "drop" else missing, False)
    x, names, categories, unseen = _features(t, cols, mask, known)
    y = None
    if has_target:
        col = t.column(tj)
        if task == "regression":
            values = _numeric(t, tj, list(range(len(col))))
            if values is None:
                i = next(i for i, c in enumerate(col) if not _is_number(c))
                raise DataError(f"{t.where(i, tj)}: non-numeric value {col[i]!r} in a regression target")
            _check_finite(t, values, tj, np.float64)
            y = values
        else:
            y = apply_label_names([_label_key(c) for c in col], target_names,
                                  f"{t.path}, column {target!r}", t.lines)
    return DataBundle(x, y, task, len(target_names) if task == "classification" else 0, names, target_names,
                      t.path.stem, target=target, categories=categories, columns=columns,
                      n_dropped=n_dropped, unseen=unseen, missing=counts)
