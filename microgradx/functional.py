"""Function transforms, all in one place: derivatives of any order, Hessians, forward
mode and Newton's method (`microgradx.transforms`, `microgradx.forward` and
`microgradx.newton` define them)."""

from .forward import hvp, jvp
from .newton import NewtonResult, newton
from .transforms import derivative, hessian, value_and_grad

__all__ = ["NewtonResult", "derivative", "hessian", "hvp", "jvp", "newton", "value_and_grad"]
