"""`graphgrad explain` run as a user would, on input meant to break it: exit 2, one line on stderr, no traceback.

Every case is a real subprocess of ``python -m graphgrad explain``. The command line of one process
is limited to 128 KiB per argument by the kernel, so the 1 MB expression is built inside the child
and handed to the same ``main()`` the command runs.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphgrad.cli import main
from graphgrad.viz.expr import MAX_LENGTH, MAX_NESTING, MAX_OPERATIONS

SRC = Path(__file__).resolve().parents[2] / "src"
ENV = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}


def explain(*args: str | bytes, env: dict[str, str] | None = None, cwd: Path | None = None,
            code: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "graphgrad", "explain", *args]
    return subprocess.run(command, capture_output=True, timeout=300, env={**ENV, **(env or {})}, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The single stderr line of a refused command (asserting exit 2, nothing else printed, no traceback)."""
    err = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 2, err[-2000:]
    assert b"Traceback" not in proc.stderr
    assert proc.stdout == b""
    assert err.endswith("\n") and err.count("\n") == 1, err[-2000:]
    assert err.startswith("graphgrad: error: ")
    return err.rstrip("\n")


BIG = "1" * 400

HOSTILE = [
    # numbers float64 cannot hold
    ([BIG + "*x", "--at", "x=1"], "the number 11111111111111111111111\u2026 (400 characters) is too large for "
                                  "float64 (at most about 1.8e308) at column 1 of"),
    (["x + " + BIG + ".5", "--at", "x=1"], "(402 characters) is too large for float64 (at most about 1.8e308) at "
                                           "column 5 of"),
    (["x*1e400", "--at", "x=1"], "the number 1e400 is too large for float64 (at most about 1.8e308) at column 3 of "
                                 "'x*1e400'"),
    (["x*1e-400", "--at", "x=1"], "the number 1e-400 is too close to zero for float64 (it would become 0) at "
                                  "column 3 of 'x*1e-400'"),
    # over-long, too many operations, too deep
    (["x+" * 65_000 + "x", "--at", "x=1"], f"the expression is too long: 130,001 characters, at most {MAX_LENGTH:,} "
                                            f"are accepted (column {MAX_LENGTH + 1} is past the limit)"),
    (["+".join(["x"] * (MAX_OPERATIONS + 2)), "--at", "x=1"],
     f"too many operations (at most {MAX_OPERATIONS:,}; this is one more) at column {2 * MAX_OPERATIONS + 2} of"),
    (["(" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1), "--at", "x=1"],
     f"parentheses nested more than {MAX_NESTING} deep at column {MAX_NESTING + 1} of"),
    (["sin(" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1), "--at", "x=1"],
     f"parentheses nested more than {MAX_NESTING} deep at column {4 * MAX_NESTING + 4} of"),
    (["x*" + "-" * (MAX_NESTING + 1) + "x", "--at", "x=1"], f"more than {MAX_NESTING} signs in a row at column "
                                                             f"{MAX_NESTING + 3} of"),
    # bad syntax, names and functions
    (["x +* 2", "--at", "x=1"], "expected a number, a name or '(' but found '*' at column 4 of 'x +* 2'"),
    (["x*(y+1", "--at", "x=1,y=2"], "'(' is never closed at column 3 of 'x*(y+1'"),
    (["2x", "--at", "x=1"], "expected an operator (+ - * / **), ',' or ')' but found 'x' at column 2 of '2x'; write "
                            "2*x, not 2x"),
    (["x*q", "--at", "x=1"], "no value for q at column 3 of 'x*q'; give every variable one, e.g. --at x=1,q=1"),
    (["foo(x)", "--at", "x=1"], "unknown function 'foo' at column 1 of 'foo(x)'; available: exp, log,"),
    (["x.real", "--at", "x=1"], "attribute access ('.') is not allowed at column 2 of 'x.real'"),
    (["lambda: x", "--at", "x=1"], "'lambda' is a Python keyword, not allowed in an expression at column 1"),
    (["x ^ 2", "--at", "x=1"], "operator '^' is not supported at column 3 of 'x ^ 2'; write x**2 for a power"),
    (["max(x)", "--at", "x=1"], "max() takes 2 arguments, got 1 at column 1 of 'max(x)'"),
    (["2*3"], "'2*3' uses no variables, so there is nothing to differentiate"),
    (["-x*y", "--at", "x=1,y=2"], "graphgrad explain: unrecognized arguments: -x*y"),
    # bad --at values
    (["x", "--at", "x=abc"], "--at x: 'abc' is not a finite number (write it like 1.5, -2 or 3e-4)"),
    (["x", "--at", "x=inf"], "--at x: 'inf' is not a finite number"),
    (["x", "--at", "x=nan"], "--at x: 'nan' is not a finite number"),
    (["x", "--at", "x="], "--at x: '' is not a finite number"),
    (["x", "--at", "x=1e999"], "--at x: 1e999 is too large for float64"),
    (["x", "--at", "x=" + BIG], "--at x: 11111111111111111111111\u2026 (400 characters) is too large for float64"),
    (["x", "--at", "x:1"], "--at expects NAME=NUMBER pairs separated by commas, got 'x:1'"),
    (["x", "--at", "x=1,x=2"], "--at gives x twice"),
    (["x", "--at", "x=1,y=2"], "--at gives y, which the expression does not use (it uses x)"),
    # values and gradients explain cannot show
    (["1/x", "--at", "x=0"], "'1/x' divides by zero for x=0 at column 1 of '1/x'; explain needs finite values"),
    (["x**1000", "--at", "x=10"], "'x**1000' is inf for x=10 at column 1 of 'x**1000'; explain needs finite values"),
    (["x*2**100000", "--at", "x=1"], "'2**100000' is inf for x=1 at column 3 of 'x*2**100000'"),
    (["exp(exp(x))", "--at", "x=7"], "'exp(exp(x))' is inf for x=7 at column 1"),
    (["log(x)", "--at", "x=-1"], "'log(x)' is nan for x=-1 at column 1"),
    (["sqrt(x)", "--at", "x=0"], "the derivative of 'sqrt(x)' with respect to 'x' is inf for x=0 at column 1 of "
                                 "'sqrt(x)'; explain needs finite gradients"),
    # empty input and characters outside the grammar
    ([""], "explain: give an expression"),
    (["   ", "--at", "x=1"], "empty expression; write one like \"x*(y**2+z)\""),
    (["x+\u200b1", "--at", "x=1"], "character U+200B (ZERO WIDTH SPACE) is not allowed at column 3 of 'x+\\u200b1'"),
    (["x*\U0001f600", "--at", "x=1"], "character '\U0001f600' (U+1F600) is not allowed at column 3"),
    (["x+\x01", "--at", "x=1"], "character U+0001 (not a printable character) is not allowed at column 3 of "
                                "'x+\\x01'"),
    ([b"x+\xff\xfe", "--at", "x=1"], "character U+DCFF (not a printable character) is not allowed at column 3 of "
                                     "'x+\\udcff\\udcfe'"),  # bytes that are not UTF-8 reach Python as surrogates
]


@pytest.mark.parametrize(("argv", "message"), HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_input_is_one_line_exit_2(argv, message):
    line = one_line_error(explain(*argv))
    assert message in line, line[:500]
    assert len(line) < 700  # the line never echoes a long expression in full


def test_non_ascii_error_on_an_ascii_terminal():
    proc = explain("x+\u03bb\u00b2", "--at", "x=1", env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"})
    assert "'\\u03bb\\xb2' is not a valid name at column 3" in one_line_error(proc)


def test_a_megabyte_expression():
    code = ("import sys; from graphgrad.cli import main; "
            "sys.exit(main(['explain', 'x+' * 500_000 + 'x', '--at', 'x=1']))")
    line = one_line_error(explain(code=code))
    assert line == (f"graphgrad: error: the expression is too long: 1,000,001 characters, at most {MAX_LENGTH:,} "
                    f"are accepted (column {MAX_LENGTH + 1} is past the limit)")


def test_code_in_the_expression_never_runs(tmp_path):
    marker = tmp_path / "ran"
    for text in (f"__import__('os').system('touch {marker}')", f"x + exec('open(\"{marker}\", \"w\")')",
                 f"(lambda: __import__('pathlib').Path('{marker}').touch())()"):
        one_line_error(explain(text, "--at", "x=1", cwd=tmp_path))
    assert not marker.exists() and os.listdir(tmp_path) == []


def test_ten_thousand_terms():
    n = 10_000
    terms = "+".join(f"{i % 9 + 1}*x{i}" for i in range(n))
    proc = explain(terms, "--at", ",".join(f"x{i}=0.5" for i in range(n)))
    out = proc.stdout.decode()
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr[-2000:]
    assert f"value: {sum(i % 9 + 1 for i in range(n)) / 2:g}" in out
    assert "  d/dx0    = 1\n" in out and "  d/dx8    = 9\n" in out and "  d/dx9999 = 1\n" in out


def test_a_thousand_term_flat_sum_of_one_variable():  # issue 14's case
    proc = explain("+".join(["x"] * 1000), "--at", "x=0.25")
    out = proc.stdout.decode()
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr[-2000:]
    assert "value: 250\n" in out and "  d/dx = 1000\n" in out


# ------------------------------------------------------------------ anything else a user can type
_ATOMS = ["x", "y", "0", "1", "2", "0.5", "1e300", "1e-300", "pi", "e", "1000"]
_FUNCTIONS = ["exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "negative"]
_VALUES = ["0", "1", "-1", "2", "-0.5", "1e300", "-1e300", "1e-300", "710", "-710", "0.3"]


@st.composite
def _expressions(draw, depth=0):
    kind = draw(st.sampled_from(["atom", "binary", "call", "sign", "junk"])) if depth < 4 else "atom"
    if kind == "atom":
        return draw(st.sampled_from(_ATOMS))
    if kind == "binary":
        op = draw(st.sampled_from(["+", "-", "*", "/", "**"]))
        return f"{draw(_expressions(depth + 1))}{op}{draw(_expressions(depth + 1))}"
    if kind == "call":
        return f"{draw(st.sampled_from(_FUNCTIONS))}({draw(_expressions(depth + 1))})"
    if kind == "sign":
        return f"-({draw(_expressions(depth + 1))})"
    return draw(_expressions(depth + 1)) + draw(st.text(max_size=3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions(), st.lists(st.sampled_from(_VALUES), min_size=2, max_size=2))
def test_any_expression_at_any_point_prints_a_result_or_one_line(text, values):
    """In-process (the subprocess cases above cover the process itself); warnings are errors here, so a
    NumPy overflow warning leaking onto stderr fails the test."""
    argv = ["explain", text, "--at", f"x={values[0]}"] + (["--at", f"y={values[1]}"] if "y" in text else [])
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    lines = err.getvalue().splitlines()
    if rc == 0:
        assert lines == [] and "value: " in out.getvalue()
    else:
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("graphgrad: error: "), (rc, lines)


def test_maximum_of_tied_scalars():
    proc = explain("max(x, y)", "--at", "x=1,y=1")
    assert proc.returncode == 0 and "d/dx = 0.5" in proc.stdout.decode()


def test_power_zero_of_a_zero_has_zero_local_derivative():
    """``log(x)**0`` at x=1 is 0**0: constant 1, so the local derivative is 0, computed without
    evaluating 0 * 0**-1 (a divide-by-zero warning the test above once drew)."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["explain", "log(x)**0", "--at", "x=1"])
    assert rc == 0 and err.getvalue() == "", err.getvalue()
    assert "d/dx = 0" in out.getvalue()


def test_a_variable_named_like_a_generated_name_keeps_its_name():
    """Long intermediate formulas get generated names (add_1, divide_1); a variable the user named
    that way is still shown under its own name, and the generated name takes another number."""
    expression = "softplus(x)*log1p(y**2)/sigmoid(divide_1)-tanh(x*y)+min(x,divide_1)**2+add_1"
    proc = explain(expression, "--at", "x=0.3,y=-1.7,divide_1=2.2,add_1=1")
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    variables = [line.split()[1:3] for line in out.splitlines() if line.split()[2:3] == ["variable"]]
    assert variables == [["x", "variable"], ["y", "variable"], ["divide_1", "variable"], ["add_1", "variable"]]
    assert "divide_1 #2" not in out and "add_1 #2" not in out


def test_a_drawing_in_an_unknown_format_is_refused_before_any_work(tmp_path):
    proc = explain("--example", "mlp", "--svg", "graph.gif", cwd=tmp_path)
    assert one_line_error(proc) == ("graphgrad: error: explain --svg graph.gif: unknown format 'gif'; "
                                    "choose one of svg, png")
    assert list(tmp_path.iterdir()) == []
