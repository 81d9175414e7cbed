"""A rule or forward that once chose in Python from the values: recorded on batches of one kind,
replayed on batches of the other, the captured step must still be the eager step bit for bit.

Each case records its plan on the first calls (values of one kind) and replays it on later ones
(values of the other kind); a choice taken in Python at recording would be frozen into the plan.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.compile import CaptureError, capture
from tests.compile.test_capture_registry import OPINFOS, _calls, _compare


def _recorded_on_one_kind_replayed_on_another(name: str, later: Any, dtype: Any = np.float64) -> None:
    """Six calls of entry ``name``'s registry step: three ordinary ones (recorded), then three whose
    inputs ``later(arrays)`` rewrites (replayed), compared with eager mode bit for bit."""
    info = next(i for i in OPINFOS if i.name == name)
    shapes = info.sample_shapes()
    calls = _calls(info, shapes, "oooooo", None, seed=7)
    for arrays, _, _ in calls[3:]:
        later(arrays)
    _compare(info, shapes, calls, dtype)


def _zeros_and_tiny(arrays: list[np.ndarray]) -> None:
    """Exact zeros and tiny values (sinc's series range) at fixed places; one entry large."""
    flat = arrays[0].reshape(-1)
    flat[[0, 1, 2]] = (0.0, 1e-9, -0.01)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_sinc_recorded_away_from_0_replays_its_series_near_0(dtype: Any) -> None:
    """sinc's rule took its closed form (cos u - sin u / u) / u in Python when no entry was near 0:
    a plan recorded on such batches gave inf at 0 at replay (eager: the series, 0)."""
    _recorded_on_one_kind_replayed_on_another("sinc", _zeros_and_tiny, dtype)


def test_sinc_recorded_near_0_replays_its_closed_form_away_from_it() -> None:
    """The other way: a plan recorded where every entry was near 0 replayed the series everywhere."""
    info = next(i for i in OPINFOS if i.name == "sinc")
    shapes = info.sample_shapes()
    calls = _calls(info, shapes, "oooooo", None, seed=7)
    for arrays, _, _ in calls[:3]:
        arrays[0] *= 0.01  # |pi x| < 0.1 everywhere
    _compare(info, shapes, calls)


def _flat_slice(arrays: list[np.ndarray]) -> None:
    """A row whose deviations square to 0 (std underflows to 0 with the centred values nonzero),
    and a row of signed zeros (std 0, centred values -0 and +0)."""
    a = arrays[0]
    a[0] = [1e-200, -1e-200, 0.0][: a.shape[1]]
    a[1] = [-0.0, 0.0, -0.0][: a.shape[1]]


@pytest.mark.parametrize("name", ["std[last]", "std[ddof=1]"])
def test_std_recorded_without_a_flat_slice_replays_its_zero_gradient_there(name: str) -> None:
    """std's rule replaced a zero standard deviation in Python only if a slice had one: a plan
    recorded without divided 1e-200 by 0 at replay (inf, where eager gives 0)."""
    info = next(i for i in OPINFOS if i.name == name)
    assert info.sample_shapes()[0][0] >= 2
    _recorded_on_one_kind_replayed_on_another(name, _flat_slice)


def test_det_of_a_singular_matrix_is_not_differentiated_by_a_plan_recorded_without_one() -> None:
    """det's rule chose in Python between A^-T det and the cofactor matrix (for det = 0): capture
    refuses the step rather than replay the inverse of a singular matrix."""
    w = nn.Parameter(np.array([[2.0, 1.0], [1.0, 3.0]]))
    opt = optim.SGD([w], lr=0.1)

    def step(x: gg.Tensor) -> gg.Tensor:
        loss = gg.linalg.det(w * x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    says = (r"capture: det's gradient \(the cofactor matrix where a determinant is 0\) at "
            r"test_capture_branches.py:\d+ \(`loss.backward\(\)`\) chooses its formula from the values")
    with pytest.raises(CaptureError, match=says):
        capture(step)(gg.Tensor(np.ones((2, 2))))


def test_binary_cross_entropy_checks_the_probabilities_of_every_batch() -> None:
    """The range check of binary_cross_entropy read the probabilities in Python when the plan was
    recorded, so a replayed step gave a NaN loss for a later batch where eager mode raises."""
    w = nn.Parameter(np.full(3, 0.5))
    opt = optim.SGD([w], lr=0.1)
    y = gg.Tensor(np.array([0.0, 1.0, 1.0]))

    def step(p: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.binary_cross_entropy(p * w, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = capture(step)
    for i in range(3):
        w.data[...] = 0.5
        fn(gg.Tensor(np.array([0.2, 0.4, 0.6]) + 0.1 * i))
    assert fn.plans
    w.data[...] = 0.5
    with pytest.raises(gg.errors.DataError, match=r"binary_cross_entropy: probabilities must lie in \[0, 1\], "
                                                  r"got values in \[0.1, 1.5\]"):
        fn(gg.Tensor(np.array([0.2, 0.4, 3.0])))
