"""Conv, pooling, normalization and embedding layers: PyTorch's names, arguments, initialization,
buffers and training behaviour, checked against PyTorch (float64) where it is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.errors import CheckpointError, ConfigError, ShapeError
from graphgrad.io import load_checkpoint, save_checkpoint
from graphgrad.nn.models import lenet5, small_cnn, vgg_block

RNG = np.random.default_rng(0)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # PyTorch's own note


def _torch():
    return pytest.importorskip("torch")


# ------------------------------------------------------------------ initialization and names
@pytest.mark.parametrize("layer, fan_in", [
    (lambda: nn.Conv2d(4, 6, (3, 2), rng=0), 4 * 3 * 2),
    (lambda: nn.Conv2d(4, 6, 3, groups=2, rng=0), 2 * 3 * 3),
    (lambda: nn.Conv1d(3, 5, 4, rng=0), 3 * 4),
    # transposed: the weight is (in, out / groups, *kernel) and fan_in is weight.shape[1] * kernel, as PyTorch
    (lambda: nn.ConvTranspose2d(4, 6, (3, 2), rng=0), 6 * 3 * 2),
    (lambda: nn.ConvTranspose2d(4, 6, 3, groups=2, rng=0), 3 * 3 * 3),
    (lambda: nn.ConvTranspose1d(3, 5, 4, rng=0), 5 * 4),
])
def test_conv_default_init_is_uniform_within_one_over_sqrt_fan_in(layer, fan_in) -> None:
    m = layer()
    bound = 1.0 / math.sqrt(fan_in)
    for p in (m.weight, m.bias):
        assert np.all(np.abs(p.data) <= bound) and np.abs(p.data).max() > 0.5 * bound
        assert p.dtype == np.float32
    big = nn.Conv2d(16, 32, 3, rng=1)  # enough draws to see the uniform's standard deviation
    assert big.weight.data.std() == pytest.approx(1 / math.sqrt(3 * 16 * 9), rel=0.05)
    big = nn.ConvTranspose2d(32, 16, 3, rng=1)
    assert big.weight.shape == (32, 16, 3, 3)
    assert big.weight.data.std() == pytest.approx(1 / math.sqrt(3 * 16 * 9), rel=0.05)


@pytest.mark.parametrize("ours, theirs, fan_in", [
    (lambda: nn.ConvTranspose2d(8, 512, 1, groups=4, rng=0), lambda t: t.nn.ConvTranspose2d(8, 512, 1, groups=4), 128),
    (lambda: nn.ConvTranspose1d(6, 400, 2, rng=0), lambda t: t.nn.ConvTranspose1d(6, 400, 2), 800),
])
def test_conv_transpose_init_has_torchs_bounds(ours, theirs, fan_in) -> None:
    """PyTorch's own layer fills the same interval as ours, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = out_channels / groups * kernel, weight and bias (enough draws to come near the bound)."""
    torch = _torch()
    torch.manual_seed(0)
    mine, twin = ours(), theirs(torch)
    bound = 1 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        a, b = getattr(mine, name).data, getattr(twin, name).detach().numpy()
        assert a.shape == b.shape
        for values in (a, b):
            assert bound * 0.98 < np.abs(values).max() <= bound, name


@pytest.mark.parametrize("settings, output_size", [
    (dict(stride=2, padding=1, output_padding=1), None),
    (dict(stride=2, padding=1), (10, 9)),                       # output_size picks output_padding (1, 0)
    (dict(stride=(3, 2), padding=(0, 1), groups=2), (2, 6, 16, 9)),  # the whole shape, as PyTorch takes it
    (dict(dilation=2, output_padding=1), None),                 # output_padding past the padding
])
def test_conv_transpose2d_layer_matches_torch(settings, output_size) -> None:
    torch = _torch()
    ours = nn.ConvTranspose2d(4, 6, (3, 2), rng=0, dtype=np.float64, **settings)
    theirs = torch.nn.ConvTranspose2d(4, 6, (3, 2), **settings).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = RNG.standard_normal((2, 4, 5, 5))
    xs, xt = gg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = ours(xs, output_size), theirs(xt, output_size)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    u = RNG.standard_normal(y.shape)
    y.backward(u)
    yt.backward(torch.tensor(u))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert repr(ours) == repr(theirs)


def test_conv_transpose1d_and_group_norm_layers_match_torch() -> None:
    torch = _torch()
    ours = nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, groups=2, rng=0, dtype=np.float64)
    theirs = torch.nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, groups=2).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = RNG.standard_normal((2, 4, 9))
    for size in (None, [18], (2, 6, 17)):
        np.testing.assert_allclose(ours(gg.Tensor(x), size).data, theirs(torch.tensor(x), size).detach().numpy(),
                                   rtol=1e-10)
    norm, twin = nn.GroupNorm(3, 6, eps=1e-3, dtype=np.float64), torch.nn.GroupNorm(3, 6, eps=1e-3).double()
    w, b = RNG.standard_normal(6), RNG.standard_normal(6)
    norm.weight.data[...], norm.bias.data[...] = w, b
    twin.load_state_dict({"weight": torch.tensor(w), "bias": torch.tensor(b)})
    x = RNG.standard_normal((3, 6, 4, 4)) * 3 + 2
    for mode in ("train", "eval"):  # no running statistics: the same in both
        getattr(norm, mode)()
        np.testing.assert_allclose(norm(gg.Tensor(x)).data, twin(torch.tensor(x)).detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("shape, args", [((2, 3, 4, 5), (1, -1)), ((2, 3, 4, 5), (0, 2)), ((2, 3, 4, 5), (-2, -1)),
                                         ((6,), (0, -1)), ((2, 3), (1, 1))])
def test_flatten_matches_torch(shape, args) -> None:
    torch = _torch()
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    expected = torch.nn.Flatten(*args)(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(nn.Flatten(*args)(gg.Tensor(x)).data, expected)
    assert repr(nn.Flatten(*args)) == repr(torch.nn.Flatten(*args)).replace("Flatten(", "Flatten(")


def test_flatten_refuses_what_torch_refuses() -> None:
    with pytest.raises(ShapeError, match="out of range for 1 dimensions"):
        nn.Flatten()(gg.Tensor(np.ones(5)))
    with pytest.raises(ShapeError, match="start_dim comes after end_dim"):
        nn.Flatten(2, 1)(gg.Tensor(np.ones((2, 3, 4))))


def test_unflatten_matches_torch() -> None:
    torch = _torch()
    x = np.arange(2 * 12, dtype=np.float64).reshape(2, 12)
    for size in [(3, 4), (1, -1), (2, 3, 2)]:
        np.testing.assert_array_equal(nn.Unflatten(1, size)(gg.Tensor(x)).data,
                                      torch.nn.Unflatten(1, size)(torch.tensor(x)).numpy())
    with pytest.raises(ShapeError, match="dimension 1 has size 12"):
        nn.Unflatten(1, (5, 2))(gg.Tensor(x))


# ------------------------------------------------------------------ batch norm buffers and modes
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_running_statistics_after_n_steps_match_torch(momentum) -> None:
    torch = _torch()
    ours = nn.BatchNorm2d(3, momentum=momentum, dtype=np.float64)
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum).double()
    for step in range(7):
        x = RNG.standard_normal((4, 3, 5, 5)) * (1 + step) + step
        ours(gg.Tensor(x))
        theirs(torch.tensor(x))
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-12, err_msg=key)
    assert int(ours.num_batches_tracked.data) == 7
    ours.eval()
    theirs.eval()
    x = RNG.standard_normal((2, 3, 5, 5))
    np.testing.assert_allclose(ours(gg.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    before = ours.state_dict()
    ours(gg.Tensor(x))  # evaluation changes no buffer
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_batch_norm_without_running_statistics_uses_batch_statistics_in_eval() -> None:
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False, dtype=np.float64).eval()
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    np.testing.assert_allclose(bn(gg.Tensor(x)).data, [[-1, -1], [1, 1]], rtol=1e-5)
    assert bn.state_dict() == {}


def test_train_and_eval_switch_every_batch_norm_in_a_model() -> None:
    model = small_cnn((1, 8, 8), 10, rng=0)
    x = gg.Tensor(RNG.standard_normal((4, 64)).astype(np.float32))
    model(x)
    counts = [int(m.num_batches_tracked.data) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert counts == [1, 1, 1, 1]
    model.eval()
    with gg.no_grad():
        first = model(x).data
        np.testing.assert_allclose(model(x[:2]).data, first[:2], rtol=1e-5)  # eval: each row on its own
    assert [int(m.num_batches_tracked.data) for m in model.modules() if isinstance(m, nn.BatchNorm2d)] == counts


def test_layer_errors_name_the_layer() -> None:
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(3\) got input of shape \(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(gg.Tensor(np.ones((2, 4, 5, 5))))
    with pytest.raises(ShapeError, match=r"Conv2d\(in_channels=3\) got input of shape \(2, 1, 5, 5\)"):
        nn.Conv2d(3, 4, 3)(gg.Tensor(np.ones((2, 1, 5, 5))))
    with pytest.raises(ConfigError, match="divisible by groups 2"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ConfigError, match="padding='same' needs stride 1"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ConfigError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ConfigError, match="return_indices=True is not supported"):
        nn.MaxPool2d(2, return_indices=True)


@pytest.mark.parametrize("make, error, message", [
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), ConfigError,
     "ConvTranspose2d: only padding_mode='zeros' is supported, got 'reflect'"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), ConfigError,
     "ConvTranspose2d: padding must be an int or a tuple of 2 ints, got 'same'"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=2), ConfigError,
     r"output_padding \(2, 2\) must be at least 0 and smaller than the stride \(2, 2\) or the dilation \(1, 1\)"),
    (lambda: nn.ConvTranspose1d(3, 4, 3, output_padding=(1, 1)), ConfigError,
     "ConvTranspose1d: output_padding must be an int or a tuple of 1 ints"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, groups=2), ConfigError, "divisible by groups 2"),
    (lambda: nn.ConvTranspose2d(4, 4, 3)(gg.Tensor(np.ones((2, 3, 5, 5)))), ShapeError,
     r"ConvTranspose2d\(in_channels=4\) got input of shape \(2, 3, 5, 5\)"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2)(gg.Tensor(np.ones((2, 4, 5, 5))), (13, 11)), ShapeError,
     r"output_size \(13, 11\) is not reachable from input of shape \(2, 4, 5, 5\): each size must lie between "
     r"\(11, 11\) and \(12, 12\)"),
    (lambda: nn.ConvTranspose2d(4, 4, 3)(gg.Tensor(np.ones((2, 4, 5, 5))), (7,)), ConfigError,
     r"output_size must be 2 ints \(or the output's whole shape, 4\)"),
    (lambda: nn.GroupNorm(4, 6), ConfigError, "GroupNorm: num_channels 6 must be divisible by num_groups 4"),
    (lambda: nn.GroupNorm(0, 6), ConfigError, "GroupNorm: num_groups must be a positive integer, got 0"),
    (lambda: nn.GroupNorm(2, 6)(gg.Tensor(np.ones((2, 4, 3)))), ShapeError,
     r"GroupNorm\(2, 6\) got input of shape \(2, 4, 3\); expected \(N, C, ...\) with C = 6"),
])
def test_transposed_conv_and_group_norm_layer_errors(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


# ------------------------------------------------------------------ state dict and checkpoints
def test_model_with_buffers_round_trips_through_state_dict_and_checkpoint(tmp_path) -> None:
    model = small_cnn((1, 8, 8), 10, rng=0)
    x = gg.Tensor(RNG.standard_normal((8, 64)).astype(np.float32))
    for _ in range(3):
        model(x)  # running statistics move away from their initial values
    model.eval()
    expected = model(x).data
    save_checkpoint(tmp_path, {"note": "cnn"}, {"model": model.state_dict()})
    restored = small_cnn((1, 8, 8), 10, rng=1)  # other weights
    loaded = load_checkpoint(tmp_path)
    restored.load_state_dict(loaded.groups["model"])
    restored.eval()
    np.testing.assert_array_equal(restored(x).data, expected)
    assert loaded.groups["model"]["2.num_batches_tracked"].dtype == np.int64
    state = model.state_dict()
    del state["2.running_var"]
    with pytest.raises(CheckpointError, match=r"missing keys \['2.running_var'\]"):
        restored.load_state_dict(state)


# ------------------------------------------------------------------ whole models against PyTorch
def _sgd_steps_agree(model, batches, loss: str = "cross_entropy", lr: float = 0.05,
                     momentum: float = 0.9) -> list[float]:
    """SGD steps on ``batches`` of (input, target) in graphgrad and in ``model``'s PyTorch twin: equal
    losses at every step and equal parameters and buffers after; returns the losses."""
    torch = _torch()
    from graphgrad.benchmarks.torch_models import to_torch

    twin = to_torch(model)
    opt = optim.SGD(list(model.parameters()), lr=lr, momentum=momentum)
    topt = torch.optim.SGD(twin.parameters(), lr=lr, momentum=momentum)
    ours, theirs = getattr(gg, loss), getattr(torch.nn.functional, loss)
    losses = []
    for x, y in batches:
        value = ours(model(gg.Tensor(x)), y)
        opt.zero_grad()
        value.backward()
        opt.step()
        tvalue = theirs(twin(torch.tensor(x)), torch.tensor(y))
        topt.zero_grad()
        tvalue.backward()
        topt.step()
        assert float(value.data) == pytest.approx(tvalue.item(), rel=1e-9)
        losses.append(float(value.data))
    state = twin.state_dict()
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value, state[key].numpy(), rtol=1e-8, atol=1e-10, err_msg=key)
    return losses


def _random_batches(shape: tuple[int, int], steps: int = 20) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    return [(rng.standard_normal(shape), rng.integers(0, 10, shape[0])) for _ in range(steps)]


def test_lenet_parameters_after_20_sgd_steps_match_torch() -> None:
    _sgd_steps_agree(lenet5((1, 28, 28), 10, rng=0, dtype=np.float64), _random_batches((16, 784)))


def test_small_cnn_with_batch_norm_after_20_sgd_steps_matches_torch() -> None:
    _sgd_steps_agree(small_cnn((1, 8, 8), 10, rng=0, dtype=np.float64), _random_batches((16, 64)), lr=0.02)


def test_vgg_block_after_5_sgd_steps_matches_torch() -> None:
    _sgd_steps_agree(vgg_block((3, 16, 16), 10, width=8, rng=0, dtype=np.float64),
                     _random_batches((8, 3 * 16 * 16), steps=5))


def test_model_factories_check_their_arguments() -> None:
    with pytest.raises(ConfigError, match="input_shape must be"):
        small_cnn((8,), 10)
    with pytest.raises(ConfigError, match="too small"):
        lenet5((1, 8, 8))
    assert small_cnn((8, 8), 3, rng=0)(gg.Tensor(np.ones((2, 64), np.float32))).shape == (2, 3)
    assert small_cnn((3, 28, 28), 10, channels=(8, 8, 8, 8, 8), rng=0)(
        gg.Tensor(np.ones((2, 3 * 28 * 28), np.float32))).shape == (2, 10)


def test_functional_gathers_the_conv_family() -> None:
    from graphgrad.nn import functional as F
    from graphgrad.ops import conv

    for name in conv.__all__:
        assert getattr(F, name) is getattr(conv, name) and name in F.__all__


def test_small_cnn_learns_the_digits_in_two_epochs_with_a_captured_step() -> None:
    """`graphgrad train --model cnn` as the benchmark runs it: far above chance after two epochs, its
    step (batch norm, max pooling) captured rather than run eagerly."""
    from graphgrad.benchmarks.cnn_digits import train_graphgrad

    result = train_graphgrad(0, epochs=2)
    assert result["accuracy"] > 0.9
    assert result["step"] == "captured"


# ------------------------------------------------------------------ captured steps
def _cnn_with_every_layer(momentum: float | None) -> nn.Sequential:
    return nn.Sequential(
        nn.Unflatten(1, (2, 6, 6)),
        nn.Conv2d(2, 4, 3, padding=1, rng=1), nn.BatchNorm2d(4, momentum=momentum), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1, rng=2), nn.AvgPool2d(3, 1, 1), nn.ReLU(),
        nn.MaxPool2d(3, 1), nn.Flatten(), nn.LayerNorm(4), nn.Linear(4, 3, rng=3),
    )


def _train(model: nn.Sequential, capture: bool, steps: int = 6) -> object:
    from graphgrad.compile import capture as capture_step

    opt = optim.Adam(list(model.parameters()), lr=1e-2)

    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = gg.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = capture_step(step) if capture else step
    rng = np.random.default_rng(4)
    for _ in range(steps):
        fn(gg.Tensor(rng.standard_normal((5, 72))), gg.Tensor(rng.integers(0, 3, 5)))
    return fn


def test_a_cnn_step_with_batch_norm_pooling_and_layer_norm_is_captured_bit_for_bit() -> None:
    eager, captured = _cnn_with_every_layer(0.1), _cnn_with_every_layer(0.1)
    _train(eager, capture=False)
    fn = _train(captured, capture=True)
    assert fn.plans  # replayed from the third step on
    want, got = eager.state_dict(), captured.state_dict()
    assert want.keys() == got.keys()
    for key in want:  # parameters, running statistics and num_batches_tracked (6 steps)
        assert np.array_equal(np.asarray(got[key]), np.asarray(want[key])), key
    assert int(np.asarray(got["2.num_batches_tracked"])) == 6


def test_a_captured_step_takes_the_weight_gradient_made_with_the_input_gradient(monkeypatch) -> None:
    """The second convolution's input gradient is a correlation that also makes its weight
    gradient; replays hand it over as the eager step does (no second pass over x's columns)."""
    from graphgrad.ops import conv as C

    fn = _train(_cnn_with_every_layer(0.1), capture=True, steps=3)
    assert fn.plans
    handed = []
    take = C._ConvSaved.take_weight_grad

    def taking(self: C._ConvSaved, x: np.ndarray, gy: np.ndarray) -> np.ndarray | None:
        handed.append(take(self, x, gy))
        return handed[-1]

    monkeypatch.setattr(C._ConvSaved, "take_weight_grad", taking)
    rng = np.random.default_rng(5)
    fn(gg.Tensor(rng.standard_normal((5, 72))), gg.Tensor(rng.integers(0, 3, 5)))
    # backward meets the second convolution first; the first one's input is the data: kept columns
    assert len(handed) == 2 and handed[0].shape == (4, 4, 3, 3) and handed[1] is None


def test_a_cumulative_batch_norm_average_is_not_captured_and_trains_eagerly() -> None:
    from graphgrad.compile import CaptureError

    with pytest.raises(CaptureError, match="different value"):
        _train(_cnn_with_every_layer(None), capture=True)


def test_backward_twice_through_a_retained_batch_norm_and_max_pool_graph() -> None:
    x = gg.Tensor(RNG.standard_normal((3, 2, 4, 4)), requires_grad=True)
    bn = nn.BatchNorm2d(2, dtype=np.float64)
    loss = (nn.functional.max_pool2d(bn(x), 2) ** 2).sum()
    loss.backward(retain_graph=True)
    first = x.grad.data.copy()
    x.grad = None
    loss.backward()  # the statistics and maxima the first backward used are found again
    np.testing.assert_array_equal(x.grad.data, first)


def _cnn_on_normalized_input() -> nn.Sequential:
    """Batch norm first: its input (the data) needs no gradient, only its weight and bias do; then one
    without weight and bias (affine=False)."""
    return nn.Sequential(
        nn.Unflatten(1, (2, 6, 6)), nn.BatchNorm2d(2), nn.Conv2d(2, 4, 3, padding=1, rng=1),
        nn.BatchNorm2d(4, affine=False), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3, rng=3),
    )


def test_a_step_with_batch_norm_on_the_data_is_captured_bit_for_bit() -> None:
    eager, captured = _cnn_on_normalized_input(), _cnn_on_normalized_input()
    _train(eager, capture=False)
    fn = _train(captured, capture=True)
    assert fn.plans
    want, got = eager.state_dict(), captured.state_dict()
    for key in want:
        assert np.array_equal(np.asarray(got[key]), np.asarray(want[key])), key
    assert not np.array_equal(np.asarray(got["1.weight"]), np.ones(2, np.float32))  # it trained


def test_batch_norm_on_the_data_gets_torchs_weight_and_bias_gradients() -> None:
    torch = _torch()
    bn, theirs = nn.BatchNorm2d(3, dtype=np.float64), torch.nn.BatchNorm2d(3).double()
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    bn.weight.data[...], bn.bias.data[...] = w, b
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    x, u = RNG.standard_normal((5, 3, 4, 4)) * 2 + 1, RNG.standard_normal((5, 3, 4, 4))
    (bn(gg.Tensor(x)) * u).sum().backward()
    (theirs(torch.tensor(x)) * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(bn.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, theirs.running_var.numpy(), rtol=1e-12)


# ------------------------------------------------------------------ transposed convolution and group norm in training
def _autoencoder(dtype=np.float32) -> nn.Sequential:
    """8x8 digits down to 8 channels of 4x4 and back up: conv, group norm, transposed conv."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 8, 3, stride=2, padding=1, rng=1, dtype=dtype), nn.GroupNorm(2, 8, dtype=dtype), nn.ReLU(),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, rng=2, dtype=dtype),  # back to 8x8
        nn.GroupNorm(4, 4, dtype=dtype), nn.ReLU(),
        nn.ConvTranspose2d(4, 1, 3, padding=1, rng=3, dtype=dtype), nn.Flatten(),
    )


def test_conv_transpose_autoencoder_on_digits_after_15_sgd_steps_matches_torch() -> None:
    from graphgrad.data.builtin import load_dataset

    images = load_dataset("digits").X.astype(np.float64) / 16.0
    batches = [(images[i * 32 : (i + 1) * 32],) * 2 for i in range(15)]
    losses = _sgd_steps_agree(_autoencoder(np.float64), batches, loss="mse_loss", lr=0.1)
    assert losses[-1] < 0.5 * losses[0]  # it learns to reconstruct


def _upsampling_cnn() -> nn.Sequential:
    """Every new layer in a classifier: strided conv, group norm, transposed convs (one whose
    output_padding passes its padding: zero rows added), a 1-D transposed conv."""
    return nn.Sequential(
        nn.Unflatten(1, (2, 6, 6)),
        nn.Conv2d(2, 4, 3, stride=2, padding=1, rng=1), nn.GroupNorm(2, 4), nn.ReLU(),       # 4x3x3
        nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, rng=2),          # 3x6x6
        nn.GroupNorm(3, 3), nn.ReLU(),
        nn.ConvTranspose2d(3, 2, 2, dilation=2, output_padding=1, groups=1, rng=3),         # 2x9x9
        nn.Flatten(2), nn.ConvTranspose1d(2, 2, 3, stride=2, groups=2, rng=4),             # 2x163
        nn.Flatten(), nn.GroupNorm(2, 326), nn.Linear(326, 3, rng=5),
    )


def test_a_step_with_transposed_convolutions_and_group_norm_is_captured_bit_for_bit() -> None:
    eager, captured = _upsampling_cnn(), _upsampling_cnn()
    _train(eager, capture=False)
    fn = _train(captured, capture=True)
    assert fn.plans  # replayed from the third step on
    want, got = eager.state_dict(), captured.state_dict()
    assert want.keys() == got.keys() and len(want) == 16
    for key in want:
        assert np.array_equal(np.asarray(got[key]), np.asarray(want[key])), key
    assert not np.array_equal(np.asarray(got["7.weight"]), _upsampling_cnn().state_dict()["7.weight"])  # it trained
