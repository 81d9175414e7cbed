"""The README's "Function transforms and custom ops" example runs and prints what its comment says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_runs_and_prints_its_promise() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Function transforms and custom ops", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the section has no python example"
    code = match.group(1)
    promised = re.search(r"print\(.*\)\s+# (.*)$", code, re.M)
    assert promised, "the example's print line states its output in a comment"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})  # noqa: S102 (the project's own README)
    assert out.getvalue().strip() == promised.group(1).strip()
