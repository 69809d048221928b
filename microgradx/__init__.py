"""microgradx: a scalar reverse-mode automatic differentiation engine.

>>> from microgradx import Value
>>> x = Value(3.0)
>>> y = x * x + 2 * x
>>> y.backward()
>>> x.grad
8.0
"""

from .checkpoint import load, save
from .compile import compile
from .descent import gradient_descent
from .engine import Value, enable_grad, grad, is_grad_enabled, no_grad
from .functional import derivative, hessian, hvp, jvp, newton, value_and_grad
from .ops import defprim
from .testing import GradcheckError, gradcheck, gradgradcheck
from .viz import draw_dot, render

__version__ = "0.1.0"

__all__ = [
    "GradcheckError",
    "Value",
    "compile",
    "defprim",
    "derivative",
    "draw_dot",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "gradient_descent",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jvp",
    "load",
    "newton",
    "no_grad",
    "render",
    "save",
    "value_and_grad",
]
