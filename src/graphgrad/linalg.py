"""``graphgrad.linalg``: NumPy's ``numpy.linalg`` functions, differentiable.

The ops live in :mod:`graphgrad.ops.norms`, :mod:`graphgrad.ops.matrix` and
:mod:`graphgrad.ops.decomp`, where each one's gradient and its conventions are documented.
"""

from graphgrad.ops.decomp import EighResult, QRResult, SVDResult, cholesky, eigh, qr, svd
from graphgrad.ops.matrix import SlogdetResult, det, inv, matrix_power, pinv, slogdet, solve
from graphgrad.ops.norms import norm

__all__ = [
    "norm",
    "inv",
    "solve",
    "det",
    "slogdet",
    "cholesky",
    "qr",
    "svd",
    "eigh",
    "pinv",
    "matrix_power",
    "EighResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
]
