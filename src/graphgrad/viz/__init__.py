"""Views of backprop: the graph as DOT / SVG / PNG, the backward pass step by step, a whole run.

``to_dot`` / ``to_svg`` / ``draw`` show a graph (op, name, shape, value, gradient; local derivatives
on scalar edges); ``explain(loss)`` lists the steps backprop takes, as a text table or an HTML page
(for tensor graphs each backward step in matrix notation, with the matrices). All of them walk the
recorded graph, which ``backward()`` frees: build views before backward, or call
``backward(retain_graph=True)``. ``graphgrad.viz.report.write_report(run_dir)`` writes a training
run's page; ``graphgrad.viz.boundary.DecisionBoundaryRecorder`` records what it shows per epoch.
``record_layers(model)`` notes the layer calls of a forward pass, so the views draw one node per
layer (a batch norm's several ops as one ``batch_norm`` node).
"""

from graphgrad.viz.dot import to_dot
from graphgrad.viz.draw import draw, to_svg
from graphgrad.viz.explain import Explanation, explain
from graphgrad.viz.graph import GraphView, build_view
from graphgrad.viz.layers import record_layers

__all__ = ["Explanation", "GraphView", "build_view", "draw", "explain", "record_layers", "to_dot", "to_svg"]
