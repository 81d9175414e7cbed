"""Optimizer and scheduler state: JSON + arrays round trips, exact resume, and refusing mismatches."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import optim
from graphgrad.errors import CheckpointError
from graphgrad.optim import lr_scheduler

MAKERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.05),
}


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [gg.Tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True),
            gg.Tensor(rng.standard_normal(2).astype(np.float32), requires_grad=True)]


def grads_at(step):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(2).astype(np.float32)]


def make_opt(name, params):
    """Two groups, so indices and per-group hyperparameters are exercised."""
    opt = MAKERS[name]([params[0]])
    opt.add_param_group({"params": [params[1]], "lr": 0.02})
    return opt


def train(opt, sched, params, steps):
    for step in steps:
        for p, g in zip(params, grads_at(step)):
            p.grad = gg.Tensor(g)
        opt.step()
        sched.step()


def to_disk_form(state):
    """Split a state dict the way a checkpoint does: arrays to an .npz buffer, the rest to JSON."""
    arrays, skeleton = {}, {"state": {}, "param_groups": state["param_groups"]}
    for idx, entry in state["state"].items():
        skeleton["state"][idx] = {}
        for k, v in entry.items():
            if isinstance(v, np.ndarray):
                key = f"{idx}.{k}"
                arrays[key] = v
                skeleton["state"][idx][k] = {"array": key}
            else:
                skeleton["state"][idx][k] = v
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return json.dumps(skeleton), buf.getvalue()


def from_disk_form(text, blob):
    skeleton = json.loads(text)
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        for entry in skeleton["state"].values():
            for k, v in entry.items():
                if isinstance(v, dict):
                    entry[k] = npz[v["array"]]
    return skeleton


@pytest.mark.parametrize("name", list(MAKERS))
def test_resume_mid_run_is_bit_identical(name):
    params = make_params()
    opt = make_opt(name, params)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    train(opt, sched, params, range(8))
    uninterrupted = [p.data.copy() for p in params]

    params = make_params()
    opt = make_opt(name, params)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    train(opt, sched, params, range(3))
    saved_weights = [p.data.copy() for p in params]
    opt_disk = to_disk_form(opt.state_dict())
    sched_json = json.dumps(sched.state_dict())

    params = [gg.Tensor(w, requires_grad=True) for w in saved_weights]
    opt = make_opt(name, params)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    opt.load_state_dict(from_disk_form(*opt_disk))
    sched.load_state_dict(json.loads(sched_json))
    train(opt, sched, params, range(3, 8))
    for got, want in zip(params, uninterrupted):
        np.testing.assert_array_equal(got.data, want)


def test_state_dict_layout():
    params = make_params()
    opt = make_opt("adam", params)
    for p, g in zip(params, grads_at(0)):
        p.grad = gg.Tensor(g)
    opt.step()
    state = opt.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0], [1]]
    assert state["param_groups"][1]["lr"] == 0.02 and state["param_groups"][0]["betas"] == [0.9, 0.999]
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert state["state"][1]["step"] == 1
    json.dumps(state["param_groups"])  # plain JSON values
    state["state"][0]["exp_avg"][...] = 123.0  # a copy: the optimizer's own state is untouched
    assert not np.any(opt.state[params[0]]["exp_avg"] == 123.0)


def test_loaded_hyperparameters_replace_current_ones():
    params = make_params()
    opt = make_opt("adam", params)
    state = opt.state_dict()
    state["param_groups"][0]["lr"] = 0.5
    state["param_groups"][0]["betas"] = [0.8, 0.9]
    fresh = make_opt("adam", make_params())
    fresh.load_state_dict(json.loads(json.dumps(state)))
    assert fresh.param_groups[0]["lr"] == 0.5 and fresh.param_groups[0]["betas"] == (0.8, 0.9)


def test_load_refuses_wrong_group_count():
    params = make_params()
    state = make_opt("sgd", params).state_dict()
    single = MAKERS["sgd"](make_params())
    with pytest.raises(CheckpointError, match="2 parameter groups, the optimizer has 1"):
        single.load_state_dict(state)


def test_load_refuses_wrong_param_count():
    state = MAKERS["sgd"](make_params()).state_dict()
    opt = MAKERS["sgd"](make_params()[:1])
    with pytest.raises(CheckpointError, match="group 0 has 2 parameters, the optimizer's has 1"):
        opt.load_state_dict(state)


def test_load_refuses_wrong_shape_and_changes_nothing():
    params = make_params()
    opt = make_opt("adam", params)
    for p, g in zip(params, grads_at(0)):
        p.grad = gg.Tensor(g)
    opt.step()
    state = opt.state_dict()
    state["state"][1]["exp_avg"] = np.zeros(5, dtype=np.float32)
    state["param_groups"][0]["lr"] = 0.9
    with pytest.raises(CheckpointError, match="'exp_avg' of parameter 1 has shape \\(5,\\).*shape \\(2,\\)"):
        opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.05  # checked before anything changed


def test_load_refuses_non_state_and_unknown_index():
    opt = MAKERS["sgd"](make_params())
    with pytest.raises(CheckpointError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"weights": 1})
    state = opt.state_dict()
    state["state"] = {7: {"momentum_buffer": np.zeros(2)}}
    with pytest.raises(CheckpointError, match="parameter index 7"):
        opt.load_state_dict(state)


def test_scheduler_state_refuses_unknown_keys():
    opt = MAKERS["sgd"](make_params())
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    with pytest.raises(CheckpointError, match="unknown keys \\['patience'\\]"):
        sched.load_state_dict({"patience": 3})


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_state_holds_what_pytorchs_holds(momentum):
    """With momentum, one buffer per parameter with PyTorch's values (plain SGD: no buffer); the
    parameters end where PyTorch's do."""
    torch = pytest.importorskip("torch")
    params = make_params()
    theirs = [torch.nn.Parameter(torch.tensor(p.data)) for p in params]
    opt = optim.SGD(params, lr=0.1, momentum=momentum)
    ref = torch.optim.SGD(theirs, lr=0.1, momentum=momentum)
    for step in range(3):
        for p, q, g in zip(params, theirs, grads_at(step)):
            p.grad, q.grad = gg.Tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    state, expected = opt.state_dict()["state"], ref.state_dict()["state"]
    assert all(not entry for idx, entry in state.items() if idx not in expected)  # plain SGD: empty entries
    for idx, entry in expected.items():
        assert sorted(state[idx]) == sorted(entry)
        for k, v in entry.items():
            np.testing.assert_allclose(state[idx][k], v.numpy(), rtol=1e-6)
    for p, q in zip(params, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", list(MAKERS))
def test_state_arrays_written_as_json_lists_load_as_arrays(name):
    # json.dumps(state, default=ndarray.tolist) turns the state arrays into lists (a 0-d one into a
    # float). They used to load as is: the next step raised a bare TypeError (list *= float), or for
    # a 0-d parameter silently stopped updating its momentum (float *= m rebinds a local name).
    params = make_params() + [gg.Tensor(np.array(0.5, dtype=np.float32), requires_grad=True)]
    opt = MAKERS[name](params)

    def run(opt, params, steps):
        for step in steps:
            for p, g in zip(params, grads_at(step) + [np.array(0.3 + step, dtype=np.float32)]):
                p.grad = gg.Tensor(g)
            opt.step()

    run(opt, params, range(2))
    text = json.dumps(opt.state_dict(), default=lambda a: a.tolist())
    twin_params = [gg.Tensor(p.data.copy(), requires_grad=True) for p in params]
    twin = MAKERS[name](twin_params)
    twin.load_state_dict(json.loads(text))
    run(opt, params, range(2, 5))
    run(twin, twin_params, range(2, 5))
    for got, want in zip(twin_params, params):
        np.testing.assert_array_equal(got.data, want.data)


def test_state_lists_of_the_wrong_shape_or_not_numbers_are_refused():
    params = make_params()
    opt = MAKERS["sgd"](params)
    for p, g in zip(params, grads_at(0)):
        p.grad = gg.Tensor(g)
    opt.step()
    state = json.loads(json.dumps(opt.state_dict(), default=lambda a: a.tolist()))
    state["state"]["1"]["momentum_buffer"] = [1.0, 2.0, 3.0]
    with pytest.raises(CheckpointError, match=r"'momentum_buffer' of parameter 1 has shape \(3,\), the parameter"):
        MAKERS["sgd"](make_params()).load_state_dict(state)
    state["state"]["1"]["momentum_buffer"] = ["a", "b"]
    with pytest.raises(CheckpointError, match=r"'momentum_buffer' of parameter 1 is a list that is not an array"):
        MAKERS["sgd"](make_params()).load_state_dict(state)


# every optimizer and every setting that changes what it keeps per parameter
VARIANTS = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.1), "SGD", {}),
    "sgd-momentum": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), "SGD", {"momentum": 0.9}),
    "sgd-nesterov": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True), "SGD",
                     {"momentum": 0.9, "nesterov": True}),
    "adam": (lambda ps: optim.Adam(ps, lr=0.05), "Adam", {}),
    "adam-amsgrad": (lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True), "Adam", {"amsgrad": True}),
    "adamw": (lambda ps: optim.AdamW(ps, lr=0.05), "AdamW", {}),
    "adamw-amsgrad": (lambda ps: optim.AdamW(ps, lr=0.05, amsgrad=True), "AdamW", {"amsgrad": True}),
    "rmsprop": (lambda ps: optim.RMSprop(ps, lr=0.01), "RMSprop", {}),
    "rmsprop-centered-momentum": (lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True), "RMSprop",
                                  {"momentum": 0.5, "centered": True}),
    "rmsprop-momentum": (lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5), "RMSprop", {"momentum": 0.5}),
    "adagrad": (lambda ps: optim.Adagrad(ps, lr=0.1), "Adagrad", {}),
}


def stepped(make, steps=range(3)):
    params = make_params()
    opt = make(params)
    for step in steps:
        for p, g in zip(params, grads_at(step)):
            p.grad = gg.Tensor(g)
        opt.step()
    return params, opt


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_optimizer_loads_its_own_state_through_json_and_arrays(variant):
    make = VARIANTS[variant][0]
    params, opt = stepped(make)
    twin_params = [gg.Tensor(p.data.copy(), requires_grad=True) for p in params]
    twin = make(twin_params)
    twin.load_state_dict(from_disk_form(*to_disk_form(opt.state_dict())))
    for step in range(3, 6):
        for ps in (params, twin_params):
            for p, g in zip(ps, grads_at(step)):
                p.grad = gg.Tensor(g)
        opt.step()
        twin.step()
    for got, want in zip(twin_params, params):
        np.testing.assert_array_equal(got.data, want.data)
    assert sorted(twin.state_dict()["state"][0]) == sorted(opt.state_dict()["state"][0])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_pytorchs_state_dicts_load_and_go_on_as_pytorch_does(variant):
    """PyTorch's own state (its tensors as arrays, its step counters as numbers) holds the entries
    ours does, loads, and the next steps end where PyTorch's do."""
    torch = pytest.importorskip("torch")
    make, name, settings = VARIANTS[variant]
    lr = make(make_params()).param_groups[0]["lr"]
    theirs = [torch.nn.Parameter(torch.tensor(p.data)) for p in make_params()]
    ref = getattr(torch.optim, name)(theirs, lr=lr, **settings)
    for step in range(3):
        for q, g in zip(theirs, grads_at(step)):
            q.grad = torch.tensor(g)
        ref.step()
    saved = ref.state_dict()
    state = {i: {k: (v.item() if k == "step" else v.numpy()) for k, v in entry.items()}
             for i, entry in saved["state"].items()}
    params = [gg.Tensor(q.detach().numpy().copy(), requires_grad=True) for q in theirs]
    opt = make(params)
    opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
    for step in range(3, 6):
        for p, q, g in zip(params, theirs, grads_at(step)):
            p.grad, q.grad = gg.Tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    for p, q in zip(params, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("saved_by", "loaded_by", "keys"), [
    ("adam", "sgd-momentum", "'exp_avg', 'exp_avg_sq', 'step'"),  # a run's optimizer edited from adam to sgd
    ("adam", "sgd", "'exp_avg', 'exp_avg_sq', 'step'"),
    ("sgd-momentum", "adagrad", "'momentum_buffer'"),
    ("rmsprop-centered-momentum", "adam", "'grad_avg', 'momentum_buffer', 'square_avg'"),
    ("adagrad", "rmsprop", "'sum'"),
])
def test_state_another_optimizer_saved_is_refused_naming_the_optimizer_and_keys(saved_by, loaded_by, keys):
    _, opt = stepped(VARIANTS[saved_by][0])
    state = opt.state_dict()  # its hyperparameters too, as a checkpoint holds them
    target = VARIANTS[loaded_by][0](make_params())
    before = target.state_dict()
    name = VARIANTS[loaded_by][1]
    with pytest.raises(CheckpointError, match=f"{name} state: parameter 0 holds {keys}, which {name} does not keep"):
        target.load_state_dict(state)
    assert target.state_dict() == before  # nothing changed


@pytest.mark.parametrize(("variant", "key"), [
    ("adam", "max_exp_avg_sq"),  # kept with amsgrad only
    ("rmsprop", "momentum_buffer"),  # with momentum > 0 only
    ("rmsprop", "grad_avg"),  # centered only
    ("sgd", "momentum_buffer"),  # with momentum only
])
def test_state_kept_only_under_another_setting_is_refused(variant, key):
    """An entry the saved settings never make (Adam without amsgrad holding max_exp_avg_sq) would
    be carried along unused into every later checkpoint."""
    params, opt = stepped(VARIANTS[variant][0])
    state = opt.state_dict()
    state["state"][1][key] = np.zeros(2, dtype=np.float32)
    with pytest.raises(CheckpointError, match=f"parameter 1 holds '{key}', which .* does not keep"):
        VARIANTS[variant][0](make_params()).load_state_dict(state)
