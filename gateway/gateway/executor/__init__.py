"""Plan execution and response shaping.

`run.Execution` performs a plan's fetches through a `SubgraphTransport` and merges their
data into one tree; `shape.Shaper` then reads that tree along the client's selection
(compiled once per plan into `ShapeSet`s) to build the response and its errors.
"""

from gateway.executor.run import Execution
from gateway.executor.shape import Shaper, ShapeSet

__all__ = ["Execution", "ShapeSet", "Shaper"]
