"""The explain page: one self-contained HTML file (inline SVG, CSS and JavaScript; no network).

The page steps through the forward pass (first all the inputs, then each computed tensor; values
appear) and the backward pass (gradients appear, the gradient table fills row by row). Each step's
explanation is written into the page in advance; the script only shows the current one, highlights
the current node and the edges it reads (forward) or sends gradient along (backward). The graph
fits the window and can be zoomed (wheel, buttons, + and -) and panned (drag). Controls: slider,
buttons, and the keyboard arrows (Home / End jump to the ends).

Graphs of scalars explain each step with numbers (``∂L/∂z1 = (−0.101) · 0.6``); graphs of tensors
with the step's formula in matrix notation and, for small sizes, the matrices themselves.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from graphgrad.io.atomic import atomic_write_text
from graphgrad.viz import matrices
from graphgrad.viz._page import num, page, script_json, value_html
from graphgrad.viz.formulas import Formula, grad_of, wrap
from graphgrad.viz.layout import layout
from graphgrad.viz.naming import formula_text
from graphgrad.viz.numbers import factor, shape_text
from graphgrad.viz.svg import KIND_FILL, render_svg

if TYPE_CHECKING:
    from graphgrad.viz.explain import BackwardStep, Explanation, ForwardStep, Term

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:12px 16px;color:#1b1f24;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:17px;margin:14px 0 6px}
p.intro{margin:2px 0 6px;color:#333}
#controls{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:6px 0}
#controls button{font-size:14px;padding:4px 10px}
#slider{flex:1;min-width:200px}
#legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px;color:#333;margin:4px 0 6px}
#legend .sw{display:inline-block;width:14px;height:11px;border:1px solid #44546a;border-radius:3px;
 vertical-align:-1px;margin-right:4px}
#legend .edge-num{color:#0b5394;font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-weight:bold}
.main{display:grid;gap:10px}
.main.side{grid-template-columns:minmax(0,1fr) minmax(0,1.1fr)}
#graph-box{position:relative}
#graph{border:1px solid #d0d7de;background:#fff;height:56vh;min-height:300px;overflow:hidden;cursor:grab;
 touch-action:none}
.side #graph{height:70vh}
#graph.dragging{cursor:grabbing}
#graph svg{width:100%;height:100%;display:block}
#zoom{position:absolute;right:8px;top:8px;display:flex;gap:4px;align-items:center;font-size:12px}
#zoom button{font-size:13px;padding:1px 8px}
#caption{font-size:14px;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;
 min-height:2.6em;overflow:auto}
.side #caption{max-height:70vh}
#caption .line{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;white-space:pre-wrap;margin:2px 0}
#caption .note{color:#555;font-size:13px;margin:2px 0 8px}
#caption .mats{display:flex;flex-wrap:wrap;align-items:center;margin:4px 0 10px}
.phase{font-weight:bold;color:#0b5394}
.node.current rect{stroke:#e8710a;stroke-width:3.5}
.edge.active path{stroke:#e8710a;stroke-width:3}
.edge.active text{fill:#e8710a;font-weight:bold}
.hidden{visibility:hidden}
table.grads{border-collapse:collapse;font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:13px}
table.grads th,table.grads td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
table.grads th{background:#eef2f6}
tr.filled td{background:#fff}
tr.current td{background:#fdebd3}
tr.pending td.value,tr.pending td.sum{color:transparent}
tr.pending td.value *,tr.pending td.sum *{visibility:hidden}
.num{border-bottom:1px dotted #aaa;cursor:help}
""" + matrices.CSS

SCRIPT = r"""
(function(){
const steps = JSON.parse(document.getElementById('steps').textContent);
const slider = document.getElementById('slider');
const label = document.getElementById('step-label');
const nodes = {};
document.querySelectorAll('#graph .node').forEach(g => { nodes[g.id.slice(1)] = g; });
const details = [...document.querySelectorAll('#caption .step')];
const svg = document.querySelector('#graph svg');
const base = svg.viewBox.baseVal;
const home = {x: base.x, y: base.y, w: base.width, h: base.height};
let vb = Object.assign({}, home);
const zoomLabel = document.getElementById('zoom-level');
function setView(){
  svg.setAttribute('viewBox', vb.x + ' ' + vb.y + ' ' + vb.w + ' ' + vb.h);
  zoomLabel.textContent = Math.round(100 * home.w / vb.w) + '%';
}
function toSvg(cx, cy){
  const p = svg.createSVGPoint(); p.x = cx; p.y = cy;
  return p.matrixTransform(svg.getScreenCTM().inverse());
}
function zoom(f, cx, cy){
  const c = (cx === undefined) ? {x: vb.x + vb.w / 2, y: vb.y + vb.h / 2} : toSvg(cx, cy);
  const w = Math.min(home.w * 1.5, Math.max(home.w / 25, vb.w * f));
  const k = w / vb.w;
  vb = {x: c.x - (c.x - vb.x) * k, y: c.y - (c.y - vb.y) * k, w: vb.w * k, h: vb.h * k};
  setView();
}
function fit(){ vb = Object.assign({}, home); setView(); }
function ensureVisible(g){
  if (!g) return;
  const b = g.getBBox();
  if (b.x >= vb.x && b.y >= vb.y && b.x + b.width <= vb.x + vb.w && b.y + b.height <= vb.y + vb.h) return;
  vb.x = b.x + b.width / 2 - vb.w / 2; vb.y = b.y + b.height / 2 - vb.h / 2; setView();
}
const graph = document.getElementById('graph');
graph.addEventListener('wheel', ev => {
  ev.preventDefault(); zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, ev.clientX, ev.clientY);
}, {passive: false});
let drag = null;
graph.addEventListener('pointerdown', ev => {
  drag = {x: ev.clientX, y: ev.clientY, vb: Object.assign({}, vb), s: svg.getScreenCTM().a};
  graph.classList.add('dragging'); graph.setPointerCapture(ev.pointerId);
});
graph.addEventListener('pointermove', ev => {
  if (!drag) return;
  vb.x = drag.vb.x - (ev.clientX - drag.x) / drag.s; vb.y = drag.vb.y - (ev.clientY - drag.y) / drag.s; setView();
});
const endDrag = () => { drag = null; graph.classList.remove('dragging'); };
graph.addEventListener('pointerup', endDrag); graph.addEventListener('pointercancel', endDrag);
document.getElementById('zoom-in').addEventListener('click', () => zoom(1 / 1.4));
document.getElementById('zoom-out').addEventListener('click', () => zoom(1.4));
document.getElementById('zoom-fit').addEventListener('click', fit);
function show(i){
  i = Math.max(0, Math.min(steps.length - 1, i));
  slider.value = i;
  const s = steps[i];
  const valueShown = new Set(), gradShown = new Set();
  for (let k = 0; k <= i; k++){
    const t = steps[k];
    for (const n of t.nodes) (t.phase === 'forward' ? valueShown : gradShown).add(String(n));
  }
  const current = new Set(s.nodes.map(String));
  for (const [id, g] of Object.entries(nodes)){
    const isConst = g.classList.contains('kind-const');
    g.querySelectorAll('.val').forEach(e => e.classList.toggle('hidden', !isConst && !valueShown.has(id)));
    g.querySelectorAll('.grad').forEach(e => e.classList.toggle('hidden', !gradShown.has(id)));
    g.classList.toggle('current', current.has(id));
  }
  const active = new Set(s.edges.map(String));
  document.querySelectorAll('#graph .edge').forEach(e => e.classList.toggle('active', active.has(e.id.slice(1))));
  document.querySelectorAll('#grad-table tbody tr').forEach(tr => {
    const row = Number(tr.dataset.step);
    tr.classList.toggle('filled', row <= i);
    tr.classList.toggle('pending', row > i);
    tr.classList.toggle('current', row === i);
  });
  details.forEach((d, k) => { d.hidden = k !== i; });
  if (s.nodes.length === 1) ensureVisible(nodes[String(s.nodes[0])]);
  label.textContent = (i + 1) + ' / ' + steps.length + ' (' + s.phase + ')';
}
slider.addEventListener('input', () => show(Number(slider.value)));
document.getElementById('prev').addEventListener('click', () => show(Number(slider.value) - 1));
document.getElementById('next').addEventListener('click', () => show(Number(slider.value) + 1));
document.getElementById('first').addEventListener('click', () => show(0));
document.getElementById('to-backward').addEventListener('click',
  () => show(steps.findIndex(s => s.phase === 'backward')));
document.addEventListener('keydown', ev => {
  if (ev.target && ev.target.tagName === 'INPUT' && ev.target.type !== 'range') return;
  if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') { show(Number(slider.value) + 1); ev.preventDefault(); }
  else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') { show(Number(slider.value) - 1); ev.preventDefault(); }
  else if (ev.key === 'Home') show(0);
  else if (ev.key === 'End') show(steps.length - 1);
  else if (ev.key === '+' || ev.key === '=') zoom(1 / 1.4);
  else if (ev.key === '-') zoom(1.4);
  else if (ev.key === '0') fit();
});
setView();
show(0);
})();
"""

LEGEND_KINDS = (
    ("data", "data (no gradient needed)"),
    ("input", "variable or parameter (gets a gradient)"),
    ("op", "computed"),
    ("const", "number in the formula"),
)


def _is_tensor_graph(ex: Explanation) -> bool:
    return any(np.asarray(ex.view.tensors[n.id].data).size > 1 for n in ex.view.nodes)


def _legend(ex: Explanation) -> str:
    kinds = {n.kind for n in ex.view.nodes}
    items = []
    for kind, text in LEGEND_KINDS:
        if kind in kinds or (kind == "input" and "param" in kinds):
            items.append(f'<span><span class="sw" style="background:{KIND_FILL[kind]}"></span>{text}</span>')
    items.append('<span><span class="sw" style="background:#fff;border:2px solid #b3261e"></span>the loss L</span>')
    if any(e.local is not None for e in ex.view.edges):
        items.append('<span><span class="edge-num">0.6</span> on an arrow = the local derivative '
                     "\u2202(arrow\u2019s head)/\u2202(arrow\u2019s tail)</span>")
    items.append("<span><b>value</b> = forward value, <b>grad</b> = \u2202L/\u2202(node)</span>")
    items.append("<span>hover a number for its full value; wheel or +/\u2212 to zoom, drag to pan</span>")
    return f'<div id="legend">{"".join(items)}</div>'


# ------------------------------------------------------------------ one step's explanation
def _numeric(op: str | None, values: list[np.ndarray]) -> str:
    """The op written over the input numbers: ``0.4 · 1``, ``sigmoid(0.4)``."""
    args = [(factor(float(np.asarray(v).reshape(-1)[0])), 9) for v in values]
    text, _ = formula_text(op or "", args)
    return text.replace(" * ", " \u00b7 ").replace(" - ", " \u2212 ").replace("-", "\u2212")


def _formula_html(f: Formula, result_label: str | None = None) -> str:
    """The formula, its note, and the operand matrices ``=`` the result."""
    parts = []
    for i, o in enumerate(f.operands):
        if i:
            parts.append(f'<span class="op-sym">{escape(o.before)}</span>')
        parts.append(matrices.matrix_html(o.label, o.data))
    if f.tail:
        parts.append(f'<span class="op-sym">{escape(f.tail)}</span>')
    result = matrices.matrix_html(result_label or f.lhs, f.result)
    return (f'<div class="line">{escape(f.text)}</div>'
            + (f'<div class="note">{escape(f.note)}</div>' if f.note else "")
            + f'<div class="mats">{"".join(parts)}<span class="op-sym">=</span>{result}</div>')


def _forward_html(steps: list[ForwardStep], tensor: bool) -> str:
    if steps[0].op is None:  # the first step: every input
        parts = ['<span class="phase">forward</span>: the inputs. ']
        parts.append(", ".join(
            f"{escape(s.name)}" + (f" ({shape_text(s.value_data.shape)})" if s.value_data.ndim else "")
            + (f" = {value_html(s.value_data)}" if s.value_data.size == 1 else "")
            for s in steps))
        html = '<div class="line">' + "".join(parts) + "</div>"
        if tensor:
            html += '<div class="mats">' + "".join(matrices.matrix_html(s.name, s.value_data) for s in steps) + "</div>"
        return html
    (s,) = steps
    head = '<span class="phase">forward</span>: '
    if tensor and s.formula is not None:
        return f'<div class="line">{head}{escape(s.formula.text)}</div>' + _formula_html(s.formula, s.name)
    rhs = s.formula.rhs if s.formula is not None else f"{s.op}({', '.join(s.inputs)})"
    ins = [o.data for o in s.formula.operands] if s.formula is not None else []
    return (f'<div class="line">{head}{escape(s.name)} = {escape(rhs)}\n'
            f'  = {escape(_numeric(s.op, ins))} = {value_html(s.value_data)}</div>')


def _term_text(s: BackwardStep, t: Term) -> str:
    chain = f"{grad_of(t.consumer_name)} \u00b7 \u2202{wrap(t.consumer_name)}/\u2202{wrap(s.name)}"
    return (f"{escape(chain)} = "
            f"{num(float(t.incoming_data.reshape(-1)[0]), True)} \u00b7 "
            f"{num(float(t.local_value or 0.0), True)} = {num(float(t.product_data.reshape(-1)[0]))}")


def _backward_html(s: BackwardStep, tensor: bool) -> str:
    head = '<span class="phase">backward</span>: '
    if not s.terms:
        return (f'<div class="line">{head}{escape(grad_of(s.name))} = 1: the backward pass starts at the loss '
                "(a change in L changes L by the same amount)</div>")
    lhs = escape(grad_of(s.name))
    if not tensor:
        lines = [f"{head}{lhs} = sum over the nodes that use {escape(s.name)} of "
                 "(their gradient \u00b7 the local derivative)"]
        lines += ["  " + _term_text(s, t) for t in s.terms]
        if len(s.terms) > 1:
            lines.append(f"  {lhs} = " + " + ".join(num(float(t.product_data.reshape(-1)[0]), True) for t in s.terms)
                         + f" = {num(float(s.grad.reshape(-1)[0]))}")
        return f'<div class="line">{chr(10).join(lines)}</div>'
    users = ", ".join(escape(t.consumer_name) for t in s.terms)
    html = [f'<div class="line">{head}{lhs}: {escape(s.name)} is used by {users}' +
            ("; the contributions add up" if len(s.terms) > 1 else "") + "</div>"]
    for t in s.terms:
        if t.formula is not None:
            html.append(_formula_html(t.formula))
    if len(s.terms) > 1:
        html.append(f'<div class="line">{lhs} = ' + " + ".join(escape(t.formula.lhs if t.formula else "")
                                                               for t in s.terms) + "</div>")
        html.append('<div class="mats">' + matrices.matrix_html(grad_of(s.name), s.grad) + "</div>")
    return "".join(html)


def _steps(ex: Explanation) -> tuple[list[dict], list[str]]:
    """The steps' data for the script and their explanations (HTML), in order."""
    into: dict[int, list[int]] = {}
    out_of: dict[int, list[int]] = {}
    for k, e in enumerate(ex.view.edges):
        into.setdefault(e.dst, []).append(k)
        out_of.setdefault(e.src, []).append(k)
    tensor = _is_tensor_graph(ex)
    leaves = [s for s in ex.forward if s.op is None]
    ops = [s for s in ex.forward if s.op is not None]
    groups = ([leaves] if leaves else []) + [[s] for s in ops]
    steps, html = [], []
    for group in groups:
        nodes = [s.node for s in group]
        edges = [k for n in nodes for k in into.get(n, [])]
        steps.append({"phase": "forward", "nodes": nodes, "edges": edges})
        html.append(_forward_html(group, tensor))
    for s in ex.backward:
        consumers = {t.consumer for t in s.terms}
        edges = [k for k in out_of.get(s.node, []) if ex.view.edges[k].dst in consumers]
        steps.append({"phase": "backward", "nodes": [s.node], "edges": edges})
        html.append(_backward_html(s, tensor))
    return steps, html


def _table_row(ex: Explanation, j: int, s: BackwardStep, row: int, tensor: bool) -> str:
    if not s.terms:
        summ = "1 (start)"
    elif tensor:
        summ = escape(" + ".join(t.formula.rhs for t in s.terms if t.formula is not None))
    else:
        summ = " + ".join(f"{num(float(t.incoming_data.reshape(-1)[0]), True)} \u00b7 "
                          f"{num(float(t.local_value or 0.0), True)}" for t in s.terms)
    shape = f" ({shape_text(s.grad.shape)})" if s.grad.ndim else ""
    return (f'<tr class="pending" data-step="{row}" data-node="{s.node}"><td>{j + 1}</td>'
            f"<td>{escape(s.name)}{shape}</td><td class=\"sum\">{summ}</td>"
            f'<td class="value">{value_html(s.grad)}</td></tr>')


def render_page(ex: Explanation, rankdir: str | None = None, extra_intro: str = "") -> str:
    """The page as a string. ``rankdir`` None: top to bottom for tensor graphs, left to right for scalars."""
    tensor = _is_tensor_graph(ex)
    lay = layout(ex.view, rankdir=rankdir or ("TB" if tensor else "LR"))
    svg = render_svg(ex.view, lay, title=ex.title)
    steps, details = _steps(ex)
    first_backward = next(i for i, s in enumerate(steps) if s["phase"] == "backward")
    rows = [_table_row(ex, j, s, first_backward + j, tensor) for j, s in enumerate(ex.backward)]
    captions = "".join(f'<div class="step" data-step="{i}"{"" if i == 0 else " hidden"}>{d}</div>'
                       for i, d in enumerate(details))
    what = ("each backward step shows its formula in matrix notation and the matrices it multiplies"
            if tensor else "each step shows its numbers")
    body = [
        f"<h1>{escape(ex.title)}</h1>",
        '<p class="intro">Step through the forward pass (values appear) and then the backward pass (gradients '
        f"appear and the gradient table fills): slider, buttons, or the arrow keys; {what}. {extra_intro}</p>",
        _legend(ex),
        '<div id="controls"><button id="first" type="button">|&#x25C0; start</button>'
        '<button id="prev" type="button">&#x25C0; previous</button>'
        '<button id="next" type="button">next &#x25B6;</button>'
        '<button id="to-backward" type="button">jump to backward pass</button>'
        f'<input id="slider" type="range" min="0" max="{len(steps) - 1}" value="0" aria-label="step">'
        '<span id="step-label"></span></div>',
        f'<div class="main{" side" if tensor else ""}">',
        '<div id="graph-box"><div id="graph">' + svg + "</div>"
        '<div id="zoom"><button id="zoom-out" type="button" title="zoom out">\u2212</button>'
        '<span id="zoom-level"></span><button id="zoom-in" type="button" title="zoom in">+</button>'
        '<button id="zoom-fit" type="button" title="fit the whole graph">fit</button></div></div>',
        f'<div id="caption">{captions}</div>',
        "</div>",
        "<h2>Gradient table <small>(the grad_table of the backprop algorithm)</small></h2>",
        '<table id="grad-table" class="grads"><thead><tr><th>#</th><th>node</th><th>sum over the nodes that use it '
        "of their gradient \u00b7 the local derivative</th><th>\u2202L/\u2202node</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        f'<script type="application/json" id="steps">{script_json(steps)}</script>',
    ]
    return page(f"{ex.title} - graphgrad explain", CSS, body, SCRIPT)


def write_page(ex: Explanation, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_page` to ``path``."""
    path = Path(path)
    atomic_write_text(path, render_page(ex))
    return path
