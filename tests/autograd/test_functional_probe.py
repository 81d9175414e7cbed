"""Inputs a JAX / torch.func user tries that once gave silently wrong numbers or raw tracebacks."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import BackwardError, ConfigError, DTypeError


def _mul(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
    return gg.sum(x * y)


@pytest.mark.parametrize("transform", [gg.grad, gg.value_and_grad, gg.jacobian, gg.hessian])
def test_repeated_argnums_is_refused(transform) -> None:  # type: ignore[no-untyped-def]
    # it used to give argument 0 a gradient of zeros in the first slot (the tensor f never saw)
    with pytest.raises(ConfigError, match=r"argnums \(0, 0\) names argument 0 twice"):
        transform(_mul, argnums=(0, 0))(np.ones(2), np.arange(2.0))


@pytest.mark.parametrize("argnums", ["0", 1.0, (0, "1"), None])
def test_argnums_that_are_not_integers_are_refused(argnums) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="argnums must be an int or a sequence of ints"):
        gg.grad(_mul, argnums=argnums)(np.ones(2), np.arange(2.0))


def test_argnums_out_of_range_is_a_graphgrad_error() -> None:
    with pytest.raises(ConfigError, match="argnums 2 out of range for a function called with 2 arguments"):
        gg.grad(_mul, argnums=2)(np.ones(2), np.arange(2.0))


@pytest.mark.parametrize(
    ("result", "kind"),
    [(lambda x: (gg.sum(x),), "tuple"), (lambda x: [gg.sum(x)], "list"), (lambda x: {"l": gg.sum(x)}, "dict")],
)
def test_grad_of_a_container_output_is_refused(result, kind) -> None:  # type: ignore[no-untyped-def]
    # it used to read the tuple as a constant array and return zeros
    with pytest.raises(BackwardError, match=f"grad: f returned a {kind}; it must return a one-element tensor"):
        gg.grad(result)(np.ones(2))


def test_elementwise_grad_of_a_tuple_output_is_refused() -> None:
    with pytest.raises(BackwardError, match="returned a tuple"):
        gg.elementwise_grad(lambda x: (x, x))(np.ones(2))


@pytest.mark.parametrize("transform", [gg.grad, gg.jacobian])
def test_an_output_of_none_is_refused(transform) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DTypeError, match="NoneType, not an array of numbers"):
        transform(lambda x: None)(np.ones(2))


def test_a_constant_number_output_still_has_zero_gradient() -> None:
    assert gg.grad(lambda x: 1.0)(np.ones(2)).tolist() == [0.0, 0.0]


def test_hvp_with_a_list_argument_reads_it_as_one_array() -> None:
    # a list of numbers is one array everywhere else; hvp read it as two arguments and then
    # refused the list direction
    hv = gg.hvp(lambda a: gg.sum(a * a * a), [1.0, 2.0], [1.0, 0.0])
    np.testing.assert_allclose(hv.data, [6.0, 0.0])


def test_hvp_with_a_list_of_arrays_keeps_the_list() -> None:
    hv = gg.hvp(lambda p: gg.sum(p[0] ** 2 * p[1]), [np.ones(2), np.full(2, 3.0)], [np.ones(2), np.zeros(2)])
    assert isinstance(hv, list)
    np.testing.assert_allclose(hv[0].data, [6.0, 6.0])
    np.testing.assert_allclose(hv[1].data, [2.0, 2.0])


def test_defaultdict_argument_round_trips() -> None:
    p = defaultdict(float, {"w": np.array([1.0, 2.0])})
    g = gg.grad(lambda p: gg.sum(p["w"] ** 2))(p)
    assert type(g) is defaultdict and g.default_factory is float
    np.testing.assert_allclose(g["w"].data, [2.0, 4.0])
