"""Custom ops for users: backward, second order, jvp, the slow methods and the views treat them like
built-ins; bad definitions get errors that name the op, the input and the shapes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import BackwardError, ConfigError, DTypeError, ShapeError
from graphgrad.ops.core import REGISTRY
from graphgrad.testing import check_op

REGISTRY_BEFORE = set(REGISTRY)


@gg.custom_op
def log1pexp(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow (softplus)."""
    return np.logaddexp(0.0, x)


@log1pexp.defvjp
def log1pexp_vjp(g: gg.Tensor, out: gg.Tensor, x: gg.Tensor) -> gg.Tensor:
    return g * gg.sigmoid(x)


@gg.custom_op(name="soft_hypot")
def soft_hypot_forward(x: np.ndarray, y: np.ndarray, *, eps: float = 1.0) -> np.ndarray:
    """sqrt(x^2 + y^2 + eps): two inputs that broadcast, and a keyword parameter."""
    return np.sqrt(x * x + y * y + eps)


soft_hypot_forward.defvjp(lambda g, out, x, y, eps=1.0: g * x / out, lambda g, out, x, y, eps=1.0: g * y / out)


@gg.custom_op
def scaled_rows(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """x * scale[:, None], with no gradient for the scale (say, fixed weights)."""
    return x * scale[:, None]


scaled_rows.defvjp(lambda g, out, x, scale: g * scale.reshape(-1, 1), None)


def test_values_and_gradients_agree_with_torch_to_second_order() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([-30.0, -1.5, 0.0, 0.7, 40.0])
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.softplus(tx)
    (t1,) = torch.autograd.grad(ty.sum(), tx, create_graph=True)
    (t2,) = torch.autograd.grad(t1.sum(), tx)
    np.testing.assert_allclose(log1pexp(x).data, ty.detach().numpy(), rtol=1e-14)
    d1 = gg.elementwise_grad(log1pexp)(x)
    d2 = gg.elementwise_grad(gg.elementwise_grad(log1pexp))(x)
    np.testing.assert_allclose(d1.data, t1.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(d2.data, t2.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(
    ("op", "args", "edges"),
    [
        (log1pexp, (np.array([[-2.0, 0.3, 1.7], [0.9, -0.4, 3.0]]),), [(np.array([800.0, -800.0]),)]),
        (soft_hypot_forward, (np.array([[0.5, -1.0, 2.0], [1.5, 0.2, -0.3]]), np.array([0.7, -2.0, 0.1])), []),
        (lambda x, y: soft_hypot_forward(x, y, eps=0.25), (np.array([0.5, -1.0]), np.array([[0.7], [1.1]])), []),
    ],
    ids=["log1pexp", "soft_hypot_broadcast", "soft_hypot_eps"],
)
def test_custom_ops_pass_the_checks_built_in_ops_pass(op: Any, args: tuple, edges: list) -> None:
    check_op(op, *args, edges=edges)


def test_an_input_without_a_rule_gets_no_gradient() -> None:
    x, s = np.ones((2, 3)), np.array([2.0, -1.0])
    gx, gs = gg.grad(lambda a, b: (scaled_rows(a, b) ** 2).sum(), argnums=(0, 1))(x, s)
    np.testing.assert_allclose(gx.data, 2 * x * (s**2)[:, None])
    np.testing.assert_array_equal(gs.data, [0.0, 0.0])


def test_jvp_hessian_and_nesting_go_through_a_custom_op() -> None:
    x, t = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    sig = 1 / (1 + np.exp(-x))
    _, tangent = gg.jvp(log1pexp, (x,), (t,))
    np.testing.assert_allclose(tangent.data, sig * t, rtol=1e-14)
    H = gg.hessian(lambda v: log1pexp(v).sum())(x)
    np.testing.assert_allclose(H.data, np.diag(sig * (1 - sig)), rtol=1e-13)


def test_the_slow_methods_and_the_views_see_the_custom_op() -> None:
    x = gg.tensor(0.5, requires_grad=True)
    y = log1pexp(x) * 2.0
    assert y.op == "multiply" and y._node is not None and y._node.inputs[0].op == "log1pexp"
    sig = 1 / (1 + np.exp(-0.5))
    (by_paths,) = gg.path_sum_grad(y, [x])
    (by_sweeps,) = gg.naive_grad(lambda a: log1pexp(a) * 2.0, [np.float64(0.5)])
    assert by_paths.item() == pytest.approx(2 * sig) and by_sweeps.item() == pytest.approx(2 * sig)
    table = str(gg.explain(y))
    assert "log1pexp(x_1) (log1pexp)" in table and f"{sig:.6g}" in table  # consumer, op and local derivative
    from graphgrad.viz import to_dot

    assert "log1pexp(x_1)" in to_dot(y)


def test_arrays_and_numbers_are_accepted_and_keep_the_tensor_dtype() -> None:
    x = gg.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = soft_hypot_forward(x, 0.5)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32


def test_a_forward_that_returns_its_input_gives_a_new_array() -> None:
    ident = gg.custom_op(lambda x: x, name="ident").defvjp(lambda g, out, x: g)
    a = np.array([1.0, 2.0])
    out = ident(a)
    out.data[0] = 9.0
    assert a[0] == 1.0


def test_user_ops_never_enter_the_built_in_registry() -> None:
    assert set(REGISTRY) == REGISTRY_BEFORE
    assert soft_hypot_forward.op is not None and soft_hypot_forward.op.name == "soft_hypot"


# ---------------------------------------------------------------------------- bad definitions
def test_a_rule_returning_the_wrong_shape_names_op_input_and_shapes() -> None:
    bad = gg.custom_op(lambda x, y: x * y, name="bad_mul")
    bad.defvjp(lambda g, out, x, y: g * y, lambda g, out, x, y: (g * x).sum(axis=0))
    msg = r"^custom op 'bad_mul': the VJP rule for input 1 returned shape \(3,\); expected the input's shape " \
          r"\(2, 1\) \(or the output's shape \(2, 3\)\)$"
    with pytest.raises(ShapeError, match=msg):
        gg.grad(lambda a, b: bad(a, b).sum(), argnums=(0, 1))(np.ones((2, 3)), np.ones((2, 1)))


def test_a_rule_returning_a_tuple_or_an_array_is_refused() -> None:
    both = gg.custom_op(lambda x: 2 * x, name="both").defvjp(lambda g, out, x: (g * 2.0, g))
    with pytest.raises(BackwardError, match=r"^custom op 'both': the VJP rule for input 0 returned a tuple of 2; each"):
        gg.grad(lambda a: both(a).sum())(np.ones(2))
    raw = gg.custom_op(lambda x: np.sin(x), name="raw").defvjp(lambda g, out, x: np.cos(x.data) * g.data)
    with pytest.raises(BackwardError, match=r"^custom op 'raw': the VJP rule for input 0 returned a ndarray; return a"):
        gg.grad(lambda a: raw(a).sum())(np.ones(2))


def test_definition_errors() -> None:
    two = gg.custom_op(lambda x, y: x + y, name="two")
    with pytest.raises(ConfigError, match=r"^custom op 'two': its forward takes 2 input\(s\) \(x, y\) but defvjp got"):
        two.defvjp(lambda g, out, x, y: g)
    with pytest.raises(ConfigError, match=r"^custom op 'two' has no gradient rules yet: call two.defvjp"):
        two(np.ones(1), np.ones(1))
    with pytest.raises(ConfigError, match=r"^custom op 'two': the rule for input 1 \(y\) is a str, not a function$"):
        two.defvjp(lambda g, out, x, y: g, "g")
    with pytest.raises(ConfigError, match=r"^custom op 'sin': a built-in op has this name; pass another"):
        gg.custom_op(np.sin)
    with pytest.raises(ConfigError, match=r"the forward takes \*xs; name each input"):
        gg.custom_op(lambda *xs: xs[0], name="many")
    two.defvjp(lambda g, out, x, y: g, lambda g, out, x, y: g)
    with pytest.raises(ShapeError, match=r"^custom op 'two' takes 2 input\(s\) \(x, y\), got 1$"):
        two(np.ones(1))
    as_tensor = gg.custom_op(lambda x: gg.Tensor(x), name="as_tensor").defvjp(lambda g, out, x: g)
    with pytest.raises(DTypeError, match=r"^custom op 'as_tensor': the forward returned a Tensor"):
        as_tensor(np.ones(1))


# ---------------------------------------------------------------------------- check_op can fail
def _sin_with(rule: Any, name: str) -> Any:
    return gg.custom_op(np.sin, name=name).defvjp(rule)


X0 = np.array([0.3, -1.2, 0.8])


def test_check_op_catches_a_wrong_first_derivative() -> None:
    with pytest.raises(gg.errors.GradcheckError, match=r"^sin_wrong: first derivatives: .*input 0"):
        check_op(_sin_with(lambda g, out, x: g * gg.sin(x), "sin_wrong"), X0)


def test_check_op_catches_rules_right_only_to_first_order() -> None:
    detached_x = _sin_with(lambda g, out, x: g * gg.cos(x.detach()), "sin_x_detached")
    with pytest.raises(gg.errors.GradcheckError, match=r"^sin_x_detached: second derivatives .*input 0 "):
        check_op(detached_x, X0)
    detached_g = _sin_with(lambda g, out, x: g.detach() * gg.cos(x), "sin_g_detached")
    with pytest.raises(gg.errors.GradcheckError, match=r"^sin_g_detached: second derivatives .*input 1 "):
        check_op(detached_g, X0)
    check_op(detached_x, X0, second_order=False)  # first order alone passes


def test_check_op_catches_a_nan_that_leaks_through_where() -> None:
    # right everywhere sqrt is defined, NaN for x < 0 even where the upstream gradient is 0
    leaky = _sin_with(lambda g, out, x: g * gg.cos(x) + (gg.sqrt(x) - gg.sqrt(x)), "sin_leaky")
    positive = np.array([0.3, 1.2])
    check_op(leaky, positive)
    with pytest.raises(gg.errors.GradcheckError, match=r"^sin_leaky: where: at \[\[-1.0\]\], input 0 gets \[nan\]"):
        check_op(leaky, positive, edges=[(np.array([-1.0]),)])


def test_check_op_catches_slow_methods_that_disagree() -> None:
    from graphgrad.testing import check_slow_methods

    squared = _sin_with(lambda g, out, x: g * g * gg.cos(x), "sin_g_squared")  # not linear in g
    with pytest.raises(gg.errors.GradcheckError, match=r"^sin_g_squared: naive_grad gives input 0"):
        check_slow_methods(squared, X0)


def test_the_checks_take_a_chosen_upstream_gradient() -> None:
    from graphgrad.testing import check_create_graph, check_second_order, check_slow_methods

    v = np.array([0.5, -2.0, 1.5])
    check_create_graph(log1pexp, X0, v=v)
    check_second_order(log1pexp, X0, v=v)
    check_slow_methods(log1pexp, X0, w=v)
    msg = r"^log1pexp: the upstream gradient has shape \(2,\), the output \(3,\)$"
    with pytest.raises(gg.errors.GradcheckError, match=msg):
        check_second_order(log1pexp, X0, v=np.ones(2))


def test_a_forward_that_returns_no_numbers_is_named() -> None:
    # a forward that updates in place and forgets to return gave an object tensor holding None
    @gg.custom_op
    def forgot_return(x):  # type: ignore[no-untyped-def]
        np.multiply(x, 2.0)

    forgot_return.defvjp(lambda g, out, x: g * 2.0)
    with pytest.raises(DTypeError, match="custom op 'forgot_return': the forward returned a NoneType"):
        forgot_return(np.ones(2))


def test_a_forward_that_writes_into_its_input_is_refused_and_the_callers_array_kept() -> None:
    def doubled(x: np.ndarray) -> np.ndarray:
        x *= 2
        return x

    op = gg.custom_op(doubled)
    op.defvjp(lambda g, out, x: g * 2)
    mine = np.ones(3)
    with pytest.raises(ConfigError, match=r"custom op 'doubled': the forward writes into an input"):
        op(mine)
    np.testing.assert_array_equal(mine, np.ones(3))
    with pytest.raises(ConfigError, match="writes into an input"):
        gg.grad(lambda x: op(x).sum())(mine)
    np.testing.assert_array_equal(mine, np.ones(3))
