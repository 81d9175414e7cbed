"""The optimizer base class: parameter groups, per-parameter state, and their (de)serialization.

Subclasses implement one method, ``_update(param, grad, state, group)``, which changes
``param.data`` in place with NumPy. The base class walks the groups, skips parameters without a
gradient, and bumps each updated parameter's version so graphs that saved it notice. Nothing is
recorded in the graph: updates are plain array arithmetic.

``state_dict()`` holds only NumPy arrays and JSON values (numbers, strings, lists), so a
checkpoint writes the arrays to safetensors and the rest to JSON, never pickle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import enable_grad, get_mode
from graphgrad.errors import CheckpointError, ConfigError
from graphgrad.ops.core import TRACER
from graphgrad.tensor import CAPTURE, Tensor

__all__ = ["Optimizer"]

ParamGroup = dict[str, Any]


def check_hyper(name: str, value: Any, low: float = 0.0, high: float | None = None, high_open: bool = False) -> None:
    """Raise ConfigError unless ``low <= value`` (and ``value < high`` or ``<= high``)."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        bound = f"[{low}, {high}{')' if high_open else ']'}" if high is not None else f">= {low}"
        raise ConfigError(f"invalid {name}: {value!r} (must be a finite number in {bound})")


def _array_from_json(value: Any, what: str) -> np.ndarray:
    """A state array that a JSON round trip turned into (nested) lists, or a float for a 0-d one."""
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged lists
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":
        raise CheckpointError(f"{what} is a list that is not an array of numbers")
    return arr


class Optimizer:
    """Updates parameters from their ``.grad``; hyperparameters live per parameter group.

    ``params`` is an iterable of tensors, or of dicts ``{"params": [...], "lr": ...}`` whose keys
    override ``defaults`` for that group (e.g. a smaller learning rate for one layer).
    """

    defaults: dict[str, Any]
    param_groups: list[ParamGroup]
    state: dict[Tensor, dict[str, Any]]

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        if isinstance(params, Tensor):
            raise ConfigError("params must be an iterable of tensors or of dicts, got a single Tensor; wrap it in [ ]")
        groups = list(params)
        if not groups:
            raise ConfigError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def _check_group(self, group: ParamGroup) -> None:
        """Subclasses validate their hyperparameters here (raising ConfigError)."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters; its missing hyperparameters take the defaults."""
        if not isinstance(param_group, dict):
            raise ConfigError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if params is None:
            raise ConfigError("a parameter group needs a 'params' entry")
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise ConfigError(f"optimizers update Tensors; params[{i}] is a {type(p).__name__}")
            if not p.is_leaf:
                raise ConfigError(f"cannot optimize a non-leaf tensor (params[{i}] was made by op {p.op!r})")
            if p.data.dtype.kind != "f":
                raise ConfigError(f"params[{i}] has dtype {p.data.dtype}; optimizers need floating-point tensors")
        if len({id(p) for p in params}) != len(params):
            raise ConfigError("a parameter appears twice in one parameter group")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ConfigError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}, "params": params}
        self._check_group(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``None`` (default) or fresh zero arrays (never zeroed in place,
        since a gradient may share memory with another array)."""
        if get_mode() & CAPTURE:
            return TRACER[0].effect(type(self).zero_grad, self, set_to_none)  # type: ignore[no-any-return]
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = Tensor._wrap(np.zeros_like(p.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one update to every parameter that has a gradient; return ``closure()`` if given."""
        if get_mode() & CAPTURE:
            if closure is not None:
                TRACER[0].refuse("capture: optimizer.step(closure) re-runs Python; call step() without one")
            else:
                return TRACER[0].effect(type(self).step, self)
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if p.grad.data.shape != p.data.shape:  # type: ignore[union-attr]
                    raise ConfigError(f"gradient shape {p.grad.data.shape} does not match parameter "  # type: ignore[union-attr]
                                      f"shape {p.data.shape}")
            if params:
                self._step_group(params, group)
        return loss

    def _step_group(self, params: list[Tensor], group: ParamGroup) -> None:
        """Update every parameter of ``group`` that has a gradient (``params``) and mark it changed:
        one :meth:`_update` each (a captured step calls ``_update`` directly too: it stays the one
        update rule)."""
        update, state = self._update, self.state
        for p in params:
            s = state.get(p)
            if s is None:
                s = state[p] = {}
            update(p.data, p.grad.data, s, group)  # type: ignore[union-attr]
            p._vc[0] += 1  # p.bump_version() without its frame

    def _state_of(self, p: Tensor) -> dict[str, Any]:
        """``p``'s state (an empty dict before its first update, as PyTorch's)."""
        s = self.state.get(p)
        if s is None:
            s = self.state[p] = {}
        return s

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: ParamGroup) -> None:
        """Change ``param`` in place from ``grad``; must not write to ``grad`` (it may be shared)."""
        raise NotImplementedError

    def _state_keys(self, group: ParamGroup) -> frozenset[str] | None:
        """The per-parameter state entries :meth:`_update` keeps under ``group``'s settings (PyTorch's
        names), so :meth:`load_state_dict` refuses a state another optimizer saved; None: not declared
        (a subclass of the user's), anything is accepted."""
        return None

    # ------------------------------------------------------------------ serialization
    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: array or number}}, "param_groups": [{..., "params": [indices]}]}``.

        Indices count parameters across groups in order. Arrays are copies, so the snapshot stays
        put while training goes on.
        """
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {
            index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        groups = [
            {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items() if k != "params"},
             "params": [index[id(p)] for p in g["params"]]}
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (JSON round trips welcome:
        string indices, lists for tuples, and state arrays written as lists are accepted).
        Everything is checked before anything changes; a mismatch raises CheckpointError."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            raise CheckpointError(f"{name}.load_state_dict needs a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise CheckpointError(
                f"{name} state has {len(saved_groups)} parameter groups, the optimizer has {len(self.param_groups)}"
            )
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise CheckpointError(
                    f"{name} state: parameter group {i} has {len(saved['params'])} parameters, "
                    f"the optimizer's has {len(group['params'])}"
                )
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            hyper = {k: (tuple(v) if isinstance(group.get(k), tuple) else v) for k, v in saved.items() if k != "params"}
            new_group = {**group, **hyper, "params": group["params"]}
            self._check_group(new_group)
            new_groups.append(new_group)
        by_index = {}
        for saved, group in zip(saved_groups, new_groups):
            for idx, p in zip(saved["params"], group["params"]):
                by_index[int(idx)] = (p, group)
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            if int(key) not in by_index:
                raise CheckpointError(f"{name} state: entry for parameter index {key} that no group lists")
            p, group = by_index[int(key)]
            self._check_state_keys(values, group, f"{name} state: parameter {key}")
            entry = {}
            for k, v in values.items():
                if isinstance(v, list) or (isinstance(v, float) and p.data.ndim == 0):
                    v = _array_from_json(v, f"{name} state: '{k}' of parameter {key}")
                if isinstance(v, (np.ndarray, Tensor)):
                    arr = np.asarray(v.data if isinstance(v, Tensor) else v)
                    if arr.shape != p.data.shape:
                        raise CheckpointError(
                            f"{name} state: '{k}' of parameter {key} has shape {arr.shape}, "
                            f"the parameter has shape {p.data.shape}"
                        )
                    v = arr.astype(p.data.dtype, copy=True)
                entry[k] = v
            new_state[p] = entry
        self.param_groups = new_groups
        self.state = new_state

    def _check_state_keys(self, values: Any, group: ParamGroup, where: str) -> None:
        """Refuse state entries this optimizer does not keep under ``group``'s settings: loaded, they
        would be carried unused into every later checkpoint (a state saved by another optimizer)."""
        if not isinstance(values, dict):
            raise CheckpointError(f"{where}: state is a {type(values).__name__}, not a mapping of names to values")
        keys = self._state_keys(group)
        if keys is None:
            return
        odd = sorted(str(k) for k in values if k not in keys)
        if odd:
            name = type(self).__name__
            kept = ", ".join(repr(k) for k in sorted(keys)) or "nothing"
            raise CheckpointError(f"{where} holds {', '.join(map(repr, odd))}, which {name} does not keep with "
                                  f"these settings (it keeps {kept}); was this state saved by another optimizer?")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines + [")"])
