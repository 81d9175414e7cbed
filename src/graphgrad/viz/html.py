"""The explain page: one self-contained HTML file (inline SVG, CSS and JavaScript; no network).

The steps travel as JSON in the page. The script shows a node's value once its forward step is
reached and its gradient once its backward step is reached, highlights the current node and the
edges it reads (forward) or sends gradient along (backward), and fills the gradient table row by
row. Controls: slider, buttons, and the keyboard arrows (Home / End jump to the ends).
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from graphgrad.viz.layout import layout
from graphgrad.viz.svg import render_svg

if TYPE_CHECKING:
    from graphgrad.viz.explain import Explanation

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:16px;color:#1b1f24;background:#fafafa}
h1{font-size:20px;margin:0 0 8px}
#controls{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:8px 0}
#controls button{font-size:14px;padding:4px 10px}
#slider{flex:1;min-width:200px}
#caption{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:14px;background:#fff;
 border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;min-height:2.6em;white-space:pre-wrap}
#graph{overflow:auto;border:1px solid #d0d7de;background:#fff;margin:8px 0;max-height:65vh}
.node.current rect{stroke:#e8710a;stroke-width:3.5}
.node.done rect{filter:none}
.edge.active path{stroke:#e8710a;stroke-width:3}
.edge.active text{fill:#e8710a;font-weight:bold}
.hidden{visibility:hidden}
table{border-collapse:collapse;font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
th{background:#eef2f6}
tr.filled td{background:#fff}
tr.current td{background:#fdebd3}
tr.pending td.value,tr.pending td.sum{color:transparent}
.phase{font-weight:bold;color:#0b5394}
"""

SCRIPT = r"""
(function(){
const steps = JSON.parse(document.getElementById('steps').textContent);
const slider = document.getElementById('slider');
const label = document.getElementById('step-label');
const caption = document.getElementById('caption');
const nodes = {};
document.querySelectorAll('#graph .node').forEach(g => { nodes[g.id.slice(1)] = g; });
function show(i){
  i = Math.max(0, Math.min(steps.length - 1, i));
  slider.value = i;
  const s = steps[i];
  const valueShown = new Set(), gradShown = new Set();
  for (let k = 0; k <= i; k++){
    const t = steps[k];
    if (t.phase === 'forward') valueShown.add(String(t.node)); else gradShown.add(String(t.node));
  }
  for (const [id, g] of Object.entries(nodes)){
    const isConst = g.classList.contains('kind-const');
    g.querySelectorAll('.val').forEach(e => e.classList.toggle('hidden', !isConst && !valueShown.has(id)));
    g.querySelectorAll('.grad').forEach(e => e.classList.toggle('hidden', !gradShown.has(id)));
    g.classList.toggle('current', id === String(s.node));
  }
  const active = new Set(s.edges.map(String));
  document.querySelectorAll('#graph .edge').forEach(e => e.classList.toggle('active', active.has(e.id.slice(1))));
  document.querySelectorAll('#grad-table tbody tr').forEach(tr => {
    const row = Number(tr.dataset.step);
    const filled = row <= i;
    tr.classList.toggle('filled', filled);
    tr.classList.toggle('pending', !filled);
    tr.classList.toggle('current', row === i);
  });
  const cur = nodes[String(s.node)];
  if (cur && cur.scrollIntoView) cur.scrollIntoView({block: 'nearest', inline: 'center'});
  label.textContent = (i + 1) + ' / ' + steps.length + ' (' + s.phase + ')';
  caption.textContent = s.text;
}
slider.addEventListener('input', () => show(Number(slider.value)));
document.getElementById('prev').addEventListener('click', () => show(Number(slider.value) - 1));
document.getElementById('next').addEventListener('click', () => show(Number(slider.value) + 1));
document.getElementById('first').addEventListener('click', () => show(0));
document.getElementById('to-backward').addEventListener('click',
  () => show(steps.findIndex(s => s.phase === 'backward')));
document.addEventListener('keydown', ev => {
  if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') { show(Number(slider.value) + 1); ev.preventDefault(); }
  else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') { show(Number(slider.value) - 1); ev.preventDefault(); }
  else if (ev.key === 'Home') show(0);
  else if (ev.key === 'End') show(steps.length - 1);
});
show(0);
})();
"""


def _steps(ex: Explanation) -> list[dict]:
    """Forward steps, then backward steps, each with its node, edges to highlight and a caption."""
    into: dict[int, list[int]] = {}
    out_of: dict[int, list[int]] = {}
    for k, e in enumerate(ex.view.edges):
        into.setdefault(e.dst, []).append(k)
        out_of.setdefault(e.src, []).append(k)
    steps = []
    for s in ex.forward:
        if s.op is None:
            text = f"forward: {s.name} is an input, value {s.value}"
        else:
            text = f"forward: {s.name} = {s.op}({', '.join(s.inputs)}) = {s.value}"
        steps.append({"phase": "forward", "node": s.node, "edges": into.get(s.node, []), "text": text})
    for s in ex.backward:
        if not s.terms:
            text = f"backward: grad_table[{s.name}] = 1 (the loss: dL/dL = 1)"
        else:
            parts = [f"grad_table[{t.consumer_name}] * d({t.consumer_name})/d({s.name}) = {t.incoming} * {t.local} = "
                     f"{t.product}" for t in s.terms]
            text = f"backward: grad_table[{s.name}] = sum over consumers\n  " + "\n  ".join(parts)
            text += f"\n  = {s.total}"
        consumers = {t.consumer for t in s.terms}
        edges = [k for k in out_of.get(s.node, []) if ex.view.edges[k].dst in consumers]
        steps.append({"phase": "backward", "node": s.node, "edges": edges, "text": text})
    return steps


def render_page(ex: Explanation, rankdir: str = "LR") -> str:
    """The page as a string."""
    lay = layout(ex.view, rankdir=rankdir)
    svg = render_svg(ex.view, lay, title=ex.title)
    zoom = f"#graph svg{{width:100%;height:auto;min-width:{lay.width:.0f}px;max-width:{1.6 * lay.width:.0f}px}}"
    steps = _steps(ex)
    nforward = len(ex.forward)
    rows = []
    for j, s in enumerate(ex.backward):
        if s.terms:
            summ = " + ".join(f"{t.incoming}·{t.local}" for t in s.terms)
        else:
            summ = "1 (start)"
        rows.append(
            f'<tr class="pending" data-step="{nforward + j}" data-node="{s.node}"><td>{j + 1}</td>'
            f"<td>{escape(s.name)}</td><td class=\"sum\">{escape(summ)}</td>"
            f'<td class="value">{escape(s.total)}</td></tr>'
        )
    data = json.dumps(steps).replace("</", "<\\/")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(ex.title)} - graphgrad explain</title>",
        f"<style>{CSS}{zoom}</style></head><body>",
        f"<h1>{escape(ex.title)}</h1>",
        "<p>Step through the forward pass (values appear) and then the backward pass (gradients appear and "
        "the gradient table fills): slider, buttons, or the arrow keys.</p>",
        '<div id="controls"><button id="first" type="button">|&#x25C0; start</button>'
        '<button id="prev" type="button">&#x25C0; previous</button>'
        '<button id="next" type="button">next &#x25B6;</button>'
        '<button id="to-backward" type="button">jump to backward pass</button>'
        f'<input id="slider" type="range" min="0" max="{len(steps) - 1}" value="0" aria-label="step">'
        '<span id="step-label"></span></div>',
        '<div id="caption"></div>',
        f'<div id="graph">{svg}</div>',
        "<h2>Gradient table</h2>",
        '<table id="grad-table"><thead><tr><th>#</th><th>node</th><th>sum over consumers of '
        "grad_table[consumer]·local derivative</th><th>grad_table[node]</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        f'<script type="application/json" id="steps">{data}</script>',
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ])


def write_page(ex: Explanation, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_page` to ``path``."""
    path = Path(path)
    path.write_text(render_page(ex), encoding="utf-8")
    return path
