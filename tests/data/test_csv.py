"""CSV loading: types, one-hot categories, label encoding, schema reuse, and every bad-input message."""

from __future__ import annotations

import re

import numpy as np
import pytest

from graphgrad.data import DataFileNotFoundError, load_csv
from graphgrad.errors import DataError


def write(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_numeric_csv_integer_target_is_classification(tmp_path):
    p = write(tmp_path, "a,b,label\n1,2.5,0\n-3,4e-1,2\n5,6,1\n")
    b = load_csv(p)
    assert b.X.dtype == np.float32 and b.X.tolist() == [[1, 2.5], [-3, np.float32(0.4)], [5, 6]]
    assert b.y.dtype == np.int64 and b.y.tolist() == [0, 2, 1]
    assert (b.task, b.n_classes, b.target, b.name) == ("classification", 3, "label", "data")
    assert b.feature_names == ["a", "b"] and b.target_names == ["0", "1", "2"]


def test_float_target_is_regression_and_task_overrides(tmp_path):
    p = write(tmp_path, "x,y\n1,0.5\n2,1.5\n3,2.0\n")
    b = load_csv(p)
    assert b.task == "regression" and b.n_classes == 0 and b.y.dtype == np.float64  # full precision
    assert b.y.tolist() == [0.5, 1.5, 2.0]
    q = write(tmp_path, "x,y\n1,3\n2,7\n", "ints.csv")
    r = load_csv(q, task="regression")
    assert r.task == "regression" and r.y.tolist() == [3.0, 7.0]
    c = load_csv(p, task="classification")
    assert c.y.tolist() == [0, 1, 2] and c.target_names == ["0.5", "1.5", "2"]


def test_target_by_name_text_labels_and_categorical_features(tmp_path):
    p = write(tmp_path, "species,size,color,weight\n"
                        "cat, 1.0,red,4\n"
                        "dog,2.0, blue ,10\n"
                        "\n"
                        "cat,1.5,green,5\n"
                        "bird,0.2,red,1\n")
    b = load_csv(p, target="species")
    assert b.task == "classification" and b.target_names == ["bird", "cat", "dog"]
    assert b.y.tolist() == [1, 2, 1, 0]
    assert b.feature_names == ["size", "color=blue", "color=green", "color=red", "weight"]
    assert b.categories == {"color": ["blue", "green", "red"]}
    assert b.X.tolist() == [[1.0, 0, 0, 1, 4], [2.0, 1, 0, 0, 10], [1.5, 0, 1, 0, 5], [np.float32(0.2), 0, 0, 1, 1]]
    assert b.columns == ["size", "color", "weight"]


def test_schema_reloads_with_training_encoding_target_optional(tmp_path):
    train = load_csv(write(tmp_path, "color,x,label\nred,1,yes\nblue,2,no\ngreen,3,yes\n", "train.csv"))
    # columns in another order, a subset of categories and labels, and a file without the target
    evaluation = load_csv(write(tmp_path, "x,label,color\n5,no,green\n6,no,green\n", "eval.csv"),
                          schema=train.schema())
    assert evaluation.X.tolist() == [[0, 1, 0, 5], [0, 1, 0, 6]] and evaluation.y.tolist() == [0, 0]
    assert evaluation.feature_names == train.feature_names
    predict = load_csv(write(tmp_path, "color,x\nred,9\n", "new.csv"), schema=train.schema())
    assert predict.y is None and predict.X.tolist() == [[0, 0, 1, 9]]


def test_schema_errors_name_file_line_column(tmp_path):
    schema = load_csv(write(tmp_path, "color,x,label\nred,1,a\nblue,2,b\n", "train.csv")).schema()
    p = write(tmp_path, "color,x,label\nred,1,a\npurple,2,b\nPink,3,a\n", "new_cat.csv")
    b = load_csv(p, schema=schema)  # unseen categories: all zeros, counted
    assert b.X.tolist() == [[0, 1, 1], [0, 0, 2], [0, 0, 3]] and b.unseen == {"color": 2}
    p = write(tmp_path, "color,x,label\nred,1,c\n", "bad_label.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}, column 'label', line 2: label 'c' was not seen")):
        load_csv(p, schema=schema)
    p = write(tmp_path, "colour,x\nred,1\n", "bad_cols.csv")
    with pytest.raises(DataError, match=r"columns differ from the training data: missing 1 of its 2 feature "
                                        r"columns: 'color' \(and optionally the target 'label'\)"):
        load_csv(p, schema=schema)
    wide = write(tmp_path, "a,b\n1,2\n", "wide.csv")
    many = {**schema, "columns": [f"pixel{i}" for i in range(64)]}
    with pytest.raises(DataError, match=r"missing 64 of its 64 feature columns: 'pixel0', .*'pixel7' and 56 more "):
        load_csv(wide, schema=many)
    p = write(tmp_path, "id,x,color\nA7,1,red\n", "extra_cols.csv")  # other columns (an id) are ignored
    assert load_csv(p, schema=schema).X.tolist() == [[0, 1, 1]]


def test_missing_file_names_the_path(tmp_path):
    p = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=re.escape(f"data file not found: {str(p)!r}")) as info:
        load_csv(p)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DataFileNotFoundError)
    with pytest.raises(DataError, match="is a directory"):
        load_csv(tmp_path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    p = write(tmp_path, text, "empty.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}: the file is empty")):
        load_csv(p)


def test_header_without_rows(tmp_path):
    p = write(tmp_path, "a,b\n\n", "head.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}: a header (line 1) but no data rows")):
        load_csv(p)


def test_ragged_row_gives_file_and_line(tmp_path):
    p = write(tmp_path, "a,b,c\n1,2,3\n\n4,5\n6,7,8\n", "ragged.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}, line 4: ragged row: 2 fields, expected 3 as in the header "
                                                  "(line 1)")):
        load_csv(p)


def test_non_numeric_cell_gives_file_line_column_and_value(tmp_path):
    p = write(tmp_path, "a,b,c\n1,2,0\n3,4,1\n5,x7,0\n8,9,1\n", "typo.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}, line 4, column 'b' (column 2): non-numeric value 'x7' in a "
                                                  "numeric column")):
        load_csv(p)


def test_non_numeric_cell_in_numeric_target(tmp_path):
    p = write(tmp_path, "a,y\n1,0.5\n2,oops\n3,1.5\n", "target.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}, line 3, column 'y' (column 2): non-numeric value 'oops'")):
        load_csv(p)


def test_text_target_with_regression_task(tmp_path):
    p = write(tmp_path, "a,y\n1,cat\n2,dog\n", "text.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}, line 2, column 'y' (column 2): non-numeric value 'cat'")):
        load_csv(p, task="regression")
    with pytest.raises(DataError, match=r"one of \['auto', 'classification', 'regression'\], got 'ranking'"):
        load_csv(p, task="ranking")


def test_empty_cell(tmp_path):
    p = write(tmp_path, "a,b,y\n1,2,0\n3,,1\n", "hole.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}: 1 missing value(s) in 1 column(s): 'b' 1; the first at "
                                                  f"{p}, line 3, column 'b' (column 2)")):
        load_csv(p)


def test_unknown_target_lists_the_columns(tmp_path):
    p = write(tmp_path, "sepal,petal,species\n1,2,0\n", "cols.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}: no column named 'label'; the columns are: sepal, petal, "
                                                  "species")):
        load_csv(p, target="label")


@pytest.mark.parametrize(("cell", "kind"), [("inf", "infinite"),
                                             ("-Infinity", "infinite"), ("1e39", "too large for float32")])
def test_nan_and_inf_give_file_line_column(tmp_path, cell, kind):
    p = write(tmp_path, f"a,b,y\n1,2,0\n3,4,1\n5,{cell},0\n", "nan.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}, line 4, column 'b' (column 2): {kind} value {cell!r}")):
        load_csv(p)


def test_nan_in_target_is_a_missing_value(tmp_path):
    p = write(tmp_path, "a,y\n1,0.5\n2,nan\n", "nan_target.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}: 1 missing value(s) in 1 column(s): 'y' 1; the first at "
                                                  f"{p}, line 3, column 'y' (column 2)")):
        load_csv(p)


def test_line_numbers_count_quoted_newlines_and_blank_lines(tmp_path):
    p = write(tmp_path, 'name,a,y\n"multi\nline",1,0\n\nplain,bad,1\nz,2,1\nw,3,0\n', "quoted.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}, line 5, column 'a' (column 2): non-numeric value 'bad'")):
        load_csv(p)


def test_duplicate_header_and_bad_encoding(tmp_path):
    p = write(tmp_path, "a,b,a\n1,2,3\n", "dup.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}, line 1: duplicate column names in the header: ['a']")):
        load_csv(p)
    q = tmp_path / "latin.csv"
    q.write_bytes(b"a,y\n1,0\n\xff,1\n")
    with pytest.raises(DataError, match=re.escape(f"{q}, line 3: not valid UTF-8")):
        load_csv(q)


def test_encoding_is_bounded_and_refused_with_its_size(tmp_path, monkeypatch):
    from graphgrad.data import csv_loader

    monkeypatch.setattr(csv_loader, "MAX_ENCODED_BYTES", 1000)
    rows = "".join(f"{i},{'abcdefgh'[i % 8]},{i % 2}\n" for i in range(40))
    p = write(tmp_path, "x,letter,y\n" + rows, "wide.csv")
    with pytest.raises(DataError, match=re.escape(f"{p}: encoding 40 rows x 9 features needs 0.0 GB")):
        load_csv(p)
