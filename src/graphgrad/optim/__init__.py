"""Optimizers (PyTorch's names, arguments and update rules) and learning-rate schedules.

``optim.SGD(model.parameters(), lr=0.1, momentum=0.9)``, then per batch ``zero_grad()``,
``loss.backward()``, ``step()``. Updates are NumPy in place on ``p.data``; no graph is recorded.
"""

from __future__ import annotations

from graphgrad.optim import lr_scheduler
from graphgrad.optim.adagrad import Adagrad
from graphgrad.optim.adam import Adam, AdamW
from graphgrad.optim.optimizer import Optimizer
from graphgrad.optim.rmsprop import RMSprop
from graphgrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler"]
