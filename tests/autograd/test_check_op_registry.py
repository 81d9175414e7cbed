"""The public checker a user runs on a custom op (``graphgrad.testing.check_op``) passes on every
built-in op of the registry, at each entry's sample inputs: users' ops and built-ins are held to
the same checks."""

from __future__ import annotations

import pytest

from tests.ops.opinfo import OpInfo, cases, differentiable_opinfos


@pytest.mark.parametrize("info", cases(differentiable_opinfos()))
def test_check_op_passes_on_every_built_in_op(info: OpInfo) -> None:
    info.check()
