"""microgradx: a scalar reverse-mode automatic differentiation engine.

Examples:
    >>> from microgradx import Value
    >>> x = Value(3.0)
    >>> y = x * x + 2 * x
    >>> y.backward()
    >>> x.grad
    8.0
"""

from . import losses  # noqa: F401 - registers the ops the losses are made of, at import
from .checkpoint import load, save
from .compile import compile
from .define import defprim
from .descent import gradient_descent
from .engine import Value, grad
from .forward import hvp, jvp
from .gc_pause import gc_paused
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .newton import newton
from .steps import backward_steps, explain
from .testing import GradcheckError, gradcheck, gradgradcheck
from .transforms import derivative, hessian, value_and_grad
from .viz import draw_dot, render
from .viz.steps import render_steps

__version__ = "0.1.0"

__all__ = [
    "GradcheckError",
    "Value",
    "backward_steps",
    "compile",
    "defprim",
    "derivative",
    "draw_dot",
    "enable_grad",
    "explain",
    "gc_paused",
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
    "render_steps",
    "save",
    "value_and_grad",
]
