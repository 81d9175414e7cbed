"""Module: parameter discovery, names, modes, state dicts and their errors, repr."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.errors import CheckpointError, ConfigError


class Block(nn.Module):
    def __init__(self, seed):
        super().__init__()
        self.fc = nn.Linear(3, 2, rng=seed)
        self.scale = nn.Parameter(np.ones(2))
        self.register_buffer("count", np.zeros(1))

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = [Block(0), Block(1)]  # a plain list is found too
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 1, rng=2), "b": nn.Linear(2, 1, bias=False, rng=3)})
        self.extra = {"w": nn.Parameter(np.zeros((2, 2)))}
        self.note = "not a parameter"
        self.numbers = [1, 2, 3]

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


def test_named_parameters_in_assignment_order():
    names = [n for n, _ in Net().named_parameters()]
    assert names == [
        "blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.0.scale",
        "blocks.1.fc.weight", "blocks.1.fc.bias", "blocks.1.scale",
        "heads.a.weight", "heads.a.bias", "heads.b.weight",
        "extra.w",
    ]
    assert all(isinstance(p, nn.Parameter) for p in Net().parameters())


def test_children_and_modules():
    net = Net()
    assert [n for n, _ in net.named_children()] == ["blocks.0", "blocks.1", "heads"]
    assert [n for n, _ in net.named_modules()] == [
        "", "blocks.0", "blocks.0.fc", "blocks.1", "blocks.1.fc", "heads", "heads.a", "heads.b"
    ]
    assert len(list(net.children())) == 3 and len(list(net.modules())) == 8


def test_non_recursive_parameters():
    net = Net()
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["extra.w"]


def test_shared_parameters_are_listed_once_but_saved_under_each_name():
    shared = nn.Linear(2, 2, rng=0)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert model.num_parameters() == 6


def test_buffers_are_saved_but_not_trained():
    block = Block(0)
    assert [n for n, _ in block.named_buffers()] == ["count"]
    assert "count" in block.state_dict() and all(p is not block.count for p in block.parameters())
    block.register_buffer("scratch", np.ones(3), persistent=False)
    assert "scratch" not in block.state_dict()
    with pytest.raises(ConfigError, match="must be a Tensor, an ndarray or None"):
        block.register_buffer("bad", [1, 2])


def test_state_dict_keys_and_copies():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert state["0.weight"].shape == (4, 3) and isinstance(state["0.weight"], np.ndarray)
    state["0.weight"][...] = 7.0
    assert not np.any(model[0].weight.data == 7.0)


def test_load_state_dict_round_trip_and_version_bump():
    src = Net()
    dst = Net()
    for p in dst.parameters():
        p.data[...] = 0.5
    version = dst.blocks[0].fc.weight._version
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (n1, a), (n2, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert n1 == n2
        np.testing.assert_array_equal(a, b)
    assert dst.blocks[0].fc.weight._version == version + 1


def test_load_state_dict_casts_to_parameter_dtype():
    lin = nn.Linear(2, 2, rng=0)
    lin.load_state_dict({"weight": np.eye(2, dtype=np.float64), "bias": gg.Tensor(np.ones(2))})
    assert lin.weight.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.data, np.eye(2))


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Linear(4, 2, rng=1))
    before = model.state_dict()
    state = dict(before)
    del state["1.bias"]
    state["0.weight"] = np.zeros((5, 3))
    state["2.weight"] = np.zeros((1, 1))
    with pytest.raises(CheckpointError) as info:
        model.load_state_dict(state)
    msg = str(info.value)
    assert "missing keys ['1.bias']" in msg
    assert "unexpected keys ['2.weight']" in msg
    assert "0.weight: checkpoint (5, 3), model (4, 3)" in msg
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_reports_but_shape_still_checked():
    model = nn.Linear(3, 2, rng=0)
    result = model.load_state_dict({"weight": np.ones((2, 3)), "other": np.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(model.weight.data, np.ones((2, 3)))
    with pytest.raises(CheckpointError, match="weight: checkpoint \\(3, 2\\)"):
        model.load_state_dict({"weight": np.ones((3, 2))}, strict=False)


def test_train_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_modes_never_write_shared_arrays():
    lin = nn.Linear(2, 2, rng=0)
    shared = np.ones((2, 2), dtype=np.float32)
    lin.weight.grad = gg.Tensor(shared)
    lin.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(lin.weight.grad.data, 0.0)
    np.testing.assert_array_equal(shared, 1.0)
    assert lin.bias.grad is None
    lin.zero_grad()
    assert lin.weight.grad is None


def test_requires_grad_and_apply():
    net = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Linear(2, 1, rng=1))
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Linear", "Sequential"]


def test_forward_missing_and_subclass_without_super_init():
    class NoForward(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="NoForward does not define forward"):
        NoForward()(1)

    class Lazy(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(2))

    lazy = Lazy()
    assert lazy.training and [n for n, _ in lazy.named_parameters()] == ["w"] and list(lazy.state_dict()) == ["w"]


def test_repr_shows_structure_and_parameter_counts():
    model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3, bias=False, rng=1))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)  # 40 params\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.2)\n"
        "  (3): Linear(in_features=8, out_features=3, bias=False)  # 24 params\n"
        ")  # 64 parameters in total"
    )
    nested = repr(nn.Sequential(nn.Sequential(nn.Linear(1, 1, rng=0)), nn.Tanh()))
    assert "  (0): Sequential(\n    (0): Linear(in_features=1, out_features=1, bias=True)  # 2 params\n" in nested


# ------------------------------------------------------------------ Parameter
def test_parameter_is_a_float_leaf_requiring_grad():
    p = nn.Parameter([1, 2, 3])
    assert isinstance(p, gg.Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float32
    assert nn.Parameter.__slots__ == ()
    arr = np.zeros(2)
    assert nn.Parameter(arr).data is arr  # shares, like torch.nn.Parameter(t)
    assert repr(nn.Parameter([1.0])).startswith("Parameter containing:\ntensor(")
    assert type(p * 2) is gg.Tensor


# ------------------------------------------------------------------ containers
def test_sequential_indexing_len_iteration_slicing():
    layers = [nn.Linear(2, 3, rng=0), nn.Identity(), nn.Linear(3, 1, rng=1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and model[0] is layers[0] and model[-1] is layers[2]
    assert list(model) == layers
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    x = gg.Tensor(np.ones((5, 2), dtype=np.float32))
    np.testing.assert_allclose(model(x).data, layers[2](layers[1](layers[0](x))).data)
    with pytest.raises(IndexError, match="index 3 is out of range for Sequential of length 3"):
        model[3]
    with pytest.raises(ConfigError, match="separate arguments"):
        nn.Sequential(layers)
    with pytest.raises(ConfigError, match="must be a Module, got int"):
        nn.Sequential(nn.ReLU(), 3)


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1, rng=0)])
    ml.append(nn.Linear(1, 2, rng=1))
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    md = nn.ModuleDict([("enc", nn.Linear(2, 2, rng=0))])
    md["dec"] = nn.Linear(2, 1, rng=1)
    assert list(md) == ["enc", "dec"] and "dec" in md and len(md) == 2
    with pytest.raises(KeyError, match="its keys are \\['enc', 'dec'\\]"):
        md["mid"]
    with pytest.raises(ConfigError, match="without '.'"):
        md["a.b"] = nn.ReLU()


def test_a_back_reference_to_the_parent_does_not_loop():
    class Parent(nn.Module):
        def __init__(self):
            super().__init__()
            self.child = nn.Linear(1, 1, rng=0)
            self.child.owner = self  # a cycle

    p = Parent()
    assert list(p.state_dict()) == ["child.weight", "child.bias"]
    assert len(list(p.modules())) == 2 and p.num_parameters() == 2


@pytest.mark.parametrize("value", [np.array([["a", "b", "c", "d"], ["e", "f", "g", "h"]]),
                                   np.array([[1 + 2j, 0, 0, 0], [0, 0, 0, 0]]), "hello"])
def test_load_state_dict_refuses_values_that_are_not_real_numbers_and_changes_nothing(value):
    # PyTorch refuses a str; NumPy would raise a bare ValueError half-way (text) or drop the
    # imaginary part (complex). The earlier keys must not have been written either.
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Linear(4, 2, rng=1))
    before = model.state_dict()
    state = {k: np.zeros_like(v) for k, v in before.items()}
    state["1.weight"] = value
    with pytest.raises(CheckpointError, match=r"1\.weight: checkpoint holds .*, not real numbers"):
        model.load_state_dict(state)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# ------------------------------------------------------------------ Sequential with named layers
def _named_cnn(torch=None):
    """A small CNN with named layers, as graphgrad's and (with ``torch``) as PyTorch's."""
    from collections import OrderedDict

    if torch is None:
        return nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(1, 4, 3, padding=1, rng=0, dtype=np.float64)),
            ("bn", nn.BatchNorm2d(4, dtype=np.float64)),
            ("relu", nn.ReLU()), ("pool", nn.MaxPool2d(2)), ("flat", nn.Flatten()),
            ("fc", nn.Linear(16, 3, rng=1, dtype=np.float64)),
        ]))
    tn = torch.nn
    return tn.Sequential(OrderedDict([
        ("conv", tn.Conv2d(1, 4, 3, padding=1)), ("bn", tn.BatchNorm2d(4)), ("relu", tn.ReLU()),
        ("pool", tn.MaxPool2d(2)), ("flat", tn.Flatten()), ("fc", tn.Linear(16, 3)),
    ])).double()


def test_sequential_from_an_ordered_dict_names_its_layers() -> None:
    model = _named_cnn()
    assert model.conv is model[0] and model.fc is model[-1] and len(model) == 6
    assert model.bn is model[1]
    assert list(model.state_dict()) == ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                        "bn.running_var", "bn.num_batches_tracked", "fc.weight", "fc.bias"]
    assert [n for n, _ in model.named_modules()] == ["", "conv", "bn", "relu", "pool", "flat", "fc"]
    assert [n for n, _ in model.named_children()] == ["conv", "bn", "relu", "pool", "flat", "fc"]
    assert "\n  (conv): Conv2d(1, 4, kernel_size=(3, 3)" in repr(model) and "\n  (relu): ReLU()\n" in repr(model)
    tail = model[3:]
    assert isinstance(tail, nn.Sequential) and [n for n, _ in tail.named_children()] == ["pool", "flat", "fc"]
    assert list(tail.state_dict()) == ["fc.weight", "fc.bias"] and tail.fc is model.fc
    model.append(nn.Softmax(dim=1))
    assert [n for n, _ in model.named_children()][-1] == "6" and getattr(model, "6") is model[6]
    x = gg.Tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 4)))
    np.testing.assert_allclose(model(x).data.sum(axis=1), 1.0)  # the appended layer runs last


def test_sequential_from_a_plain_dict_equals_the_ordered_dict_one() -> None:
    from collections import OrderedDict

    layers = {"enc": nn.Linear(3, 4, rng=0), "act": nn.Tanh(), "dec": nn.Linear(4, 2, rng=1)}
    a, b = nn.Sequential(layers), nn.Sequential(OrderedDict(layers))
    assert list(a.state_dict()) == list(b.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    x = gg.Tensor(np.ones((2, 3), dtype=np.float32))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_named_sequential_state_dicts_load_both_ways_with_pytorch() -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = _named_cnn(), _named_cnn(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    # PyTorch's trained-looking weights into ours ...
    with torch.no_grad():
        theirs.bn.running_mean.uniform_(-1, 1)
        theirs.bn.running_var.uniform_(0.5, 2)
        theirs.bn.weight.uniform_(0.5, 2)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval(), theirs.eval()
    x = np.random.default_rng(1).standard_normal((5, 1, 4, 4))
    np.testing.assert_allclose(ours(gg.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    # ... and ours into a fresh PyTorch model (strict: the same keys, shapes and order)
    fresh = _named_cnn(torch).eval()
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in _named_cnn().state_dict().items()})
    np.testing.assert_array_equal(fresh.conv.weight.detach().numpy(), _named_cnn().conv.weight.data)
    # slices and appends name layers as PyTorch does
    assert list(ours[1:].state_dict()) == list(theirs[1:].state_dict())
    assert list(ours.append(nn.Linear(3, 2, rng=2, dtype=np.float64)).state_dict()) == list(
        theirs.append(torch.nn.Linear(3, 2).double()).state_dict())
    plain, torch_plain = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert list(plain[1:].state_dict()) == list(torch_plain[1:].state_dict()) == ["2.weight", "2.bias"]


def test_named_sequential_edits_keep_names() -> None:
    from collections import OrderedDict

    model = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3, rng=0)), ("act", nn.ReLU())]))
    new_conv = nn.Conv2d(1, 5, 3, rng=1)
    model.conv = new_conv  # replaces the layer (as PyTorch), not a stray attribute beside it
    assert model[0] is new_conv and "conv" not in vars(model)
    assert model.state_dict()["conv.weight"].shape == (5, 1, 3, 3)
    model[1] = nn.Tanh()
    assert isinstance(model.act, nn.Tanh)
    model.insert(1, nn.Identity())  # a layer without a name of its own is named by its index
    assert [n for n, _ in model.named_children()] == ["conv", "1", "act"]
    del model[0]  # unlike PyTorch, which renumbers every layer, the others keep their names
    assert [n for n, _ in model.named_children()] == ["0", "act"]
    plain = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    del plain[0]
    assert [n for n, _ in plain.named_children()] == ["0", "1"] and isinstance(plain[0], nn.Tanh)


def test_named_sequential_refuses_bad_names_and_clashes() -> None:
    from collections import OrderedDict

    for key in ["a.b", "", 3]:
        with pytest.raises(ConfigError, match=r"Sequential keys must be non-empty strings without '\.', got"):
            nn.Sequential({key: nn.ReLU()})
    for key in ["forward", "training", "append"]:
        with pytest.raises(ConfigError, match=f"a layer cannot be named '{key}', an attribute of Sequential"):
            nn.Sequential(OrderedDict([(key, nn.ReLU())]))
    with pytest.raises(ConfigError, match=r"Sequential\['act'\] must be a Module, got str"):
        nn.Sequential({"conv": nn.ReLU(), "act": "relu"})
    tail = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())[1:]  # named "1", "2" as in PyTorch
    before = list(tail)
    with pytest.raises(ConfigError, match="the entries at 1 and 2 would both be named '2'"):
        tail.append(nn.ReLU())  # PyTorch silently replaces its layer "2" here
    assert list(tail) == before and [n for n, _ in tail.named_children()] == ["1", "2"]
    with pytest.raises(AttributeError, match="Sequential has no attribute or entry 'conv'"):
        _ = tail.conv
