"""Views of backprop: the graph as DOT / SVG / PNG, the backward pass step by step, a whole run.

``to_dot`` / ``to_svg`` / ``draw`` show a graph (op, name, shape, value, gradient; local derivatives
on scalar edges); ``explain(loss)`` lists the steps backprop takes, as a text table or an HTML page
(for tensor graphs each backward step in matrix notation, with the matrices). All of them walk the
recorded graph, which ``backward()`` frees: build views before backward, or call
``backward(retain_graph=True)``. ``graphgrad.viz.report.write_report(run_dir)`` writes a training
run's page; ``graphgrad.viz.boundary.DecisionBoundaryRecorder`` records what it shows per epoch.
"""

from graphgrad.viz.dot import to_dot
from graphgrad.viz.draw import draw, to_svg
from graphgrad.viz.explain import Explanation, explain
from graphgrad.viz.graph import GraphView, build_view

__all__ = ["Explanation", "GraphView", "build_view", "draw", "explain", "to_dot", "to_svg"]
