"""Plan execution and response shaping."""

from gateway.executor.run import Execution
from gateway.executor.shape import Shaper, ShapeSet

__all__ = ["Execution", "ShapeSet", "Shaper"]
