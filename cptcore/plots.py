"""Plotly figures shared by the pages (no streamlit): scenarios, fitted runs, residuals.

Pages call ``scenario_view`` once per setting (cheap to cache: a few thousand points per curve) and
``scenario_figure`` to draw it; the Fit page uses ``runs_figure`` and ``fit_figure``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from cptcore.areas import run_areas
from cptcore.decimate import decimate
from cptcore.fit import FitResult, prediction_band
from cptcore.forecast import Forecast
from cptcore.law import predict
from cptcore.markup import plotly_text
from cptcore.params_io import ParamSet
from cptcore.runs import Run
from cptcore.scenario import ScenarioCurves, has_band

TARGET_LABEL = {"pt": "General loss (D_pt)", "cpt": "Domain loss (D_cpt)"}
TARGET_SHORT = {"pt": "general", "cpt": "domain"}
COLOR = {"pt": "#2563eb", "cpt": "#dc2626", "lr": "#475569", "crit": "#7c3aed", "turn": "#059669"}
TERM_LABEL = {
    "power": "power law  A·(S1pt+S1cpt)^-α",
    "anneal": "annealing  -C1·S2pt - C2·S2cpt",
    "shift": "distribution shift  B·(1-(1+E·S1cpt)^-β)",
}
TERM_COLOR = {"power": "#0891b2", "anneal": "#ea580c", "shift": "#9333ea"}
PIN_COLORS = ("#64748b", "#a16207", "#0f766e", "#be185d")
RUN_COLORS = qualitative.D3 + qualitative.Set2


@dataclass(frozen=True, eq=False)
class ScenarioView:
    """A simulated scenario thinned to at most ~``max_points`` points per curve, plus its numbers."""

    steps: np.ndarray
    lr: np.ndarray
    transfer_step: int
    cpt_steps: int
    pred: dict  # target -> loss per kept step
    hidden_pt: dict
    hidden_cpt: dict
    terms: dict  # target -> {"power", "anneal", "shift"} -> array
    band: dict  # target -> (lower, upper) or None
    start: dict  # target -> loss at the transfer point
    delta: dict  # target -> end of CPT minus transfer point
    turning_length: int | None  # general set, CPT steps
    critical_point: float | None
    loss_potential: float
    label: str = ""
    outside: tuple = ()  # cptcore.envelope.Outside: where the scenario leaves the fitted range
    widen: float = 1.0  # the band's widening for it

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.pred)

    def with_label(self, label: str) -> ScenarioView:
        return ScenarioView(**{**self.__dict__, "label": label})


def scenario_view(
    curves: ScenarioCurves,
    max_points: int = 2000,
    label: str = "",
    ps: ParamSet | None = None,
    replay: float = 0.0,
    cpt_share: float = 0.0,
) -> ScenarioView:
    """Thin a simulated scenario for plotting (``decimate`` keeps LR corners and loss extrema).

    ``cpt_share``: the share of ``max_points`` spent evenly on the CPT window ("Zoom to the CPT
    phase": the CPT steps and as many PT steps before them), the rest on the whole run, so the
    zoomed view stays smooth with fewer points in all.

    With ``ps``, uncertainty bands come from its fits' covariances at the kept steps only: the same
    band as ``simulate(..., bands=True)`` at a fraction of the cost (O(points x parameters))."""
    tgts = tuple(curves.curves)
    n, t0 = len(curves.steps), int(curves.transfer_step)
    keep = [t0, t0 + 1]
    if cpt_share > 0 and n > max_points:
        lo = max(0, t0 - (n - 1 - t0))
        keep += np.linspace(lo, n - 1, int(cpt_share * max_points)).round().astype(int).tolist()
    idx = decimate(
        curves.steps,
        curves.lr,
        *(curves.curves[t].pred for t in tgts),
        max_points=max_points,
        keep=tuple(keep),
    )
    pick = {}
    hp, hc, tm, band, start, delta = {}, {}, {}, {}, {}, {}
    for t in tgts:
        c = curves.curves[t]
        pick[t] = c.pred[idx]
        hp[t] = c.hidden_pt[idx]
        hc[t] = c.hidden_cpt[idx]
        tm[t] = {
            "power": np.asarray(c.terms.power)[idx],
            "anneal": (np.asarray(c.terms.anneal_pt) + np.asarray(c.terms.anneal_cpt))[idx],
            "shift": np.asarray(c.terms.shift)[idx],
        }
        fit = ps.fits.get(t) if ps is not None else None
        if fit is not None and has_band(fit):
            a = curves.areas.at(curves.steps[idx])
            band[t] = prediction_band(fit, a, replay, widen=curves.widen)
        else:
            band[t] = (c.band[0][idx], c.band[1][idx]) if c.band is not None else None
        start[t] = c.start
        delta[t] = curves.delta(t)
    tl = curves.curves["pt"].turning_length if "pt" in curves.curves else None
    return ScenarioView(
        steps=curves.steps[idx],
        lr=curves.lr[idx],
        transfer_step=int(curves.transfer_step),
        cpt_steps=int(len(curves.steps) - 1 - curves.transfer_step),
        pred=pick,
        hidden_pt=hp,
        hidden_cpt=hc,
        terms=tm,
        band=band,
        start=start,
        delta=delta,
        turning_length=tl,
        critical_point=curves.critical_point,
        loss_potential=float(curves.loss_potential),
        label=label,
        outside=tuple(curves.outside),
        widen=curves.widen,
    )


def _base_layout(height: int, legend_right: bool = False) -> dict:
    """Common layout: legend above (or at the right for many runs), room for tick labels."""
    legend = (
        dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.01, font=dict(size=11))
        if legend_right
        else dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0)
    )
    return dict(
        height=height,
        margin=dict(l=70, r=20, t=50 if not legend_right else 30, b=40),
        hovermode="x unified",
        legend=legend,
        uirevision="keep",  # keep the user's zoom across reruns
        plot_bgcolor="#ffffff",
    )


GRID = dict(showgrid=True, gridcolor="#e2e8f0", zeroline=False)


# the figures' paper and inks -> ones that read on the app's light and dark page alike. After a
# switch in the settings menu, Streamlit restyles a chart at once (background, fonts) but the script
# learns of the new theme only at its next rerun (Streamlit #11920): rules, labels, markers and
# grid drawn for one theme would be near-invisible on the other until then
BOTH_THEMES = {
    "#ffffff": "rgba(0,0,0,0)",  # the page shows through
    "#e2e8f0": "rgba(100,116,139,0.3)",  # grid
    "#334155": "#64748b",  # rules and their labels: 4.8:1 on white, 3.7:1 on the dark #0f172a
    "#475569": "#64748b",  # the learning rate (COLOR["lr"])
    "#0f172a": "#64748b",  # markers
}


def _raw(fig: go.Figure) -> dict:
    """``fig`` as plain dicts with numpy arrays. Read straight from the figure: ``to_dict`` would
    copy and re-encode every array (~20 ms per chart, most of a scrub figure's cost)."""
    return dict(data=fig._data, layout=fig._layout)


def _recolor(obj, colors: dict):
    if isinstance(obj, dict):
        return {k: v if k == "bdata" else _recolor(v, colors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_recolor(v, colors) for v in obj]
    if isinstance(obj, str):
        return colors.get(obj.lower(), obj)
    return obj


def for_page(fig: go.Figure, dark: bool = False) -> go.Figure:
    """A copy of ``fig`` for the app's page: transparent backgrounds and inks that read in both
    themes (``BOTH_THEMES``), plotly's dark template when the viewer's theme is dark. (The report
    keeps the figures as drawn: a white page.)"""
    d = _recolor(_raw(fig), BOTH_THEMES)  # the arrays pass through as they are
    d["layout"].update(paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    if dark:
        d["layout"]["template"] = pio.templates["plotly_dark"].to_plotly_json()
    # drawn by our own code: no need to check it again
    return go.Figure(dict(d, frames=fig.frames), _validate=False)


def _layout(fig: go.Figure, height: int, legend_right: bool = False) -> go.Figure:
    fig.update_layout(**_base_layout(height, legend_right))
    fig.update_xaxes(**GRID)
    fig.update_yaxes(**GRID)
    return fig


def _ax(row: int) -> str:
    return "" if row == 1 else str(row)


def _scatter(**kw) -> dict:
    return dict(type="scatter", **kw)


def _compact(trace: dict) -> dict:
    """``trace`` with its x and y arrays narrowed for the browser: float32 losses and LRs (7
    significant digits, far more than a chart shows) and int32 steps. Plotly sends numpy arrays as
    base64 typed arrays, so this halves a chart's JSON and the browser's decoding work."""
    out = dict(trace)
    for k in ("x", "y"):
        a = out.get(k)
        if isinstance(a, np.ndarray) and a.size:
            if a.dtype.kind in "iu" and np.abs(a).max() < 2**31:
                out[k] = a.astype(np.int32)
            elif a.dtype.kind == "f":
                out[k] = a.astype(np.float32)
    return out


class _Builder:
    """A stack of panels sharing the x-axis, built as a plain figure dict.

    Plotly's per-property validation (``make_subplots``, ``go.Scatter``, ``add_hline``) costs about
    50 ms for a chart like Explore's; the dict built here is equivalent and takes a few ms, which
    keeps a slider rerun within its budget (benchmarks/app_speed.py)."""

    def __init__(self, titles: list[str], heights: list[float], spacing: float = 0.04):
        """``titles`` label the panels' y-axes (subplot titles would collide with the legend)."""
        self.n = n = len(titles)
        self.traces: list[dict] = []
        self.shapes: list[dict] = []
        self.notes: list[dict] = []
        self.fitted: list = []
        self.extra_y: dict = {}  # row -> [values that must be visible too]
        self.axes: dict = {}
        usable = 1.0 - spacing * (n - 1)
        total = float(sum(heights))
        top = 1.0
        for r, (t, h) in enumerate(zip(titles, heights, strict=True), start=1):
            bottom = max(top - usable * h / total, 0.0)
            a = _ax(r)
            self.axes[f"yaxis{a}"] = dict(
                domain=[bottom, top], anchor=f"x{a}", title=dict(text=t), **GRID
            )
            self.axes[f"xaxis{a}"] = dict(
                anchor=f"y{a}",
                **GRID,
                **({} if r == n else dict(matches=f"x{_ax(n)}", showticklabels=False)),
            )
            top = bottom - spacing

    def axis(self, kind: str, row: int) -> dict:
        return self.axes[f"{kind}axis{_ax(row)}"]

    def add(self, trace: dict, row: int, fit: bool = False) -> None:
        """Add a trace to panel ``row``; ``fit``: the panel's y-range is chosen to show it."""
        a = _ax(row)
        trace["xaxis"], trace["yaxis"] = f"x{a}", f"y{a}"
        self.traces.append(trace)
        if fit:
            self.fitted.append((row, np.asarray(trace["x"], float), np.asarray(trace["y"], float)))

    def hline(self, y: float, row: int, color: str, text: str) -> None:
        a = _ax(row)
        self.shapes.append(
            dict(
                type="line",
                xref=f"x{a} domain",
                x0=0,
                x1=1,
                yref=f"y{a}",
                y0=y,
                y1=y,
                line=dict(color=color, width=1, dash="dashdot"),
            )
        )
        self.notes.append(
            dict(
                xref=f"x{a} domain",
                x=0.01,
                yref=f"y{a}",
                y=y,
                text=text,
                showarrow=False,
                yanchor="top",
                xanchor="left",
                font=dict(color=color, size=11),
            )
        )

    def vline(self, x: float, text: str, label_row: int) -> None:
        """A dotted vertical line through every panel, labelled inside the panel ``label_row``."""
        self.shapes.append(
            dict(
                type="line",
                xref="x",
                x0=x,
                x1=x,
                yref="paper",
                y0=0,
                y1=1,
                line=dict(color="#334155", width=1, dash="dot"),
            )
        )
        self.notes.append(
            dict(
                xref="x",
                x=x,
                xshift=4,
                yref=f"y{_ax(label_row)} domain",
                y=1.0,
                text=text,
                showarrow=False,
                yanchor="top",
                xanchor="left",
                font=dict(size=11, color="#334155"),
            )
        )

    def figure(
        self,
        height: int,
        x_lo: float = 0.0,
        x_hi: float | None = None,
        y_from: float | None = None,
    ) -> go.Figure:
        """The figure showing x in [x_lo, x_hi]; rows with ``fit`` traces get a y-range that fits
        those traces from x = ``y_from`` (default ``x_lo``) on: the power law is huge in the
        first steps."""
        y_from = x_lo if y_from is None else max(x_lo, y_from)
        rows: dict = {}
        for r, x, y in self.fitted:
            k = (x >= y_from) & np.isfinite(y)
            if k.any():
                rows.setdefault(r, []).append(y[k])
        for r, ys in rows.items():
            v = np.concatenate(ys + self.extra_y.get(r, []))
            lo, hi = float(v.min()), float(v.max())
            pad = 0.06 * (hi - lo) if hi > lo else 0.01 * max(abs(hi), 1e-3)
            self.axis("y", r)["range"] = [lo - pad, hi + pad]
        if x_hi is not None:
            self.axis("x", self.n)["range"] = [x_lo, x_hi]
        layout = dict(_base_layout(height), shapes=self.shapes, annotations=self.notes, **self.axes)
        data = [_compact(t) for t in self.traces]
        return go.Figure(dict(data=data, layout=layout), _validate=False)


def scenario_figure(
    view: ScenarioView,
    *,
    targets: Sequence[str] | None = None,
    hidden: bool = True,
    terms_of: str | None = None,
    bands: bool = True,
    pins: Sequence[ScenarioView] = (),
    markers: bool = True,
    height: int | None = None,
    window: str = "all",
) -> go.Figure:
    """Predicted loss per validation set (hidden curves dashed), optional term decomposition, and
    the LR schedule in a linked panel below; ``pins`` are drawn as thin lines for comparison.

    ``window``: "all" shows every step, "cpt" zooms to the CPT phase with as many PT steps before it
    as there are CPT steps (double-click the chart to see everything)."""
    tgts = [t for t in (targets or view.targets) if t in view.pred]
    titles = [TARGET_LABEL[t] for t in tgts]
    if terms_of:
        titles.append(f"Terms of the {TARGET_SHORT[terms_of]} loss")
    titles.append("Learning rate")
    n = len(titles)
    b = _Builder(titles, [1.0] * (n - 1) + [0.55])
    end = float(view.steps[-1])
    # the y-range ignores the first steps, where the power law is huge (also when a "cpt" window
    # of a short pre-training reaches back to step 0)
    y_from = 0.03 * end
    x_lo = float(max(0, view.transfer_step - max(view.cpt_steps, 1))) if window == "cpt" else y_from

    def xs(v: ScenarioView) -> np.ndarray:
        return v.steps

    x = xs(view)
    for r, t in enumerate(tgts, start=1):
        band = view.band.get(t)
        if bands and band is not None:
            b.add(
                _scatter(x=x, y=band[1], line=dict(width=0), showlegend=False, hoverinfo="skip"),
                r,
            )
            b.add(
                _scatter(
                    x=x,
                    y=band[0],
                    line=dict(width=0),
                    fill="tonexty",
                    name="~95% band",
                    fillcolor="rgba(100,116,139,0.25)",
                    hoverinfo="skip",
                    legendgroup="band",
                    showlegend=r == 1,
                ),
                r,
            )
        if hidden:
            b.add(
                _scatter(
                    x=x,
                    y=view.hidden_pt[t],
                    name="hidden: continue PT on D_pt",
                    line=dict(color="#94a3b8", dash="dash", width=1.5),
                    legendgroup="hpt",
                    showlegend=r == 1,
                ),
                r,
                fit=True,
            )
            b.add(
                _scatter(
                    x=x,
                    y=view.hidden_cpt[t],
                    name="hidden: trained on D_cpt",
                    line=dict(color="#f59e0b", dash="dot", width=1.5),
                    legendgroup="hcpt",
                    showlegend=r == 1,
                ),
                r,
                fit=True,
            )
        for k, pin in enumerate(pins):
            if t in pin.pred:
                b.add(
                    _scatter(
                        x=xs(pin),
                        y=pin.pred[t],
                        name=pin.label or f"pin {k + 1}",
                        line=dict(color=PIN_COLORS[k % len(PIN_COLORS)], width=1),
                        opacity=0.8,
                        legendgroup=f"pin{k}",
                        showlegend=r == 1,
                    ),
                    r,
                    fit=True,
                )
        b.add(
            _scatter(
                x=x,
                y=view.pred[t],
                name=f"predicted {TARGET_SHORT[t]} loss",
                line=dict(color=COLOR[t], width=2.5),
            ),
            r,
            fit=True,
        )
        if markers and t == "pt":
            _general_markers(b, view, r)
    if terms_of and terms_of in view.terms:
        r = len(tgts) + 1
        for name, y in view.terms[terms_of].items():
            b.add(
                _scatter(
                    x=x, y=y, name=TERM_LABEL[name], line=dict(color=TERM_COLOR[name], width=1.5)
                ),
                r,
                fit=True,
            )
    for k, pin in enumerate(pins):
        b.add(
            _scatter(
                x=xs(pin),
                y=pin.lr,
                showlegend=False,
                legendgroup=f"pin{k}",
                line=dict(color=PIN_COLORS[k % len(PIN_COLORS)], width=1),
                name=pin.label or f"pin {k + 1}",
            ),
            n,
        )
    b.add(
        _scatter(
            x=x,
            y=view.lr,
            name="learning rate",
            showlegend=False,
            line=dict(color=COLOR["lr"], width=2),
        ),
        n,
    )
    b.axis("y", n)["exponentformat"] = "e"
    b.axis("x", n)["title"] = dict(text="step")
    if markers:
        b.vline(view.transfer_step, "CPT starts", n)
    return b.figure(height or (230 * (n - 1) + 170), x_lo, end if window == "cpt" else None, y_from)


# a scrub step: show the named frame at once (no transition, no full redraw: only the traces move)
_SCRUB_STEP = dict(
    mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0)
)
SCRUB_HEIGHT = 90  # px added under the chart for the scrub slider


def _trace_keys(traces: Sequence[dict]) -> list[tuple]:
    """A key per trace that finds "the same" trace in a figure drawn with other settings."""
    seen: dict = {}
    out = []
    for t in traces:
        k = tuple(t.get(a) for a in ("name", "xaxis", "yaxis", "legendgroup", "mode"))
        seen[k] = seen.get(k, -1) + 1
        out.append((*k, seen[k]))
    return out


def _frame_trace(base: dict, other: dict | None) -> dict:
    """What a frame sends for one trace: y on the base trace's steps for a curve (x stays), the
    whole small trace for markers, nothing drawn when the other figure has no such trace."""
    if other is None:
        return dict(x=[], y=[])
    bx, ox = _arr(base.get("x")).astype(float), _arr(other.get("x")).astype(float)
    if bx.size > 2 and ox.size > 2:
        return dict(y=np.interp(bx, ox, _arr(other["y"]).astype(float)).astype(np.float32))
    return {k: other[k] for k in ("x", "y", "text") if k in other}


def _arr(v) -> np.ndarray:
    """A figure dict's array: plotly's base64 spec ({'dtype', 'bdata'}) or a list."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v if v is not None else ())


def _spec(a: np.ndarray) -> dict:
    """``a`` as plotly's base64 typed array (frames are not encoded by plotly.py itself)."""
    return dict(dtype=a.dtype.str.lstrip("<|"), bdata=base64.b64encode(a.tobytes()).decode())


def _same(a: dict, b: dict) -> bool:
    return all(
        np.array_equal(_arr(a.get(k)), _arr(b.get(k))) if k != "text" else a.get(k) == b.get(k)
        for k in ("x", "y", "text")
    )


def scrub_figure(
    figs: Sequence[go.Figure], labels: Sequence[str], active: int, title: str
) -> go.Figure:
    """``figs[active]`` with a slider under it that swaps in the curves of the other figures in
    the browser (plotly frames restyle the traces: no rerun of the app, no full redraw).

    The figures are one chart drawn for neighbouring values of one setting (``labels``) with the
    same options and steps; each frame carries only the traces that change, as float32 y values
    at ``figs[active]``'s steps. The y-axes span every frame, so they stay put while scrubbing.
    Layout items (lines, notes) stay those of ``figs[active]``."""
    d = [_raw(f) for f in figs]
    base = {"data": [dict(t) for t in d[active]["data"]], "layout": dict(d[active]["layout"])}
    keys = _trace_keys(base["data"])
    by_key = [dict(zip(_trace_keys(x["data"]), x["data"], strict=True)) for x in d]
    for m in by_key:  # a trace only some settings draw (e.g. the turning length): an empty slot
        for k, t in m.items():
            if k not in keys:
                keys.append(k)
                base["data"].append({**t, "x": [], "y": [], "showlegend": False})
    sent = [
        [_frame_trace(bt, m.get(k)) for k, bt in zip(keys, base["data"], strict=True)]
        for m in by_key
    ]
    moving = [i for i in range(len(keys)) if any(not _same(f[i], sent[active][i]) for f in sent)]
    for f in sent:
        for t in f:
            if isinstance(t.get("y"), np.ndarray):
                t["y"] = _spec(t["y"])
    frames = [
        dict(name=lab, traces=moving, data=[f[i] for i in moving])
        for lab, f in zip(labels, sent, strict=True)
    ]
    layout = base["layout"]
    for ax, v in layout.items():
        if ax.startswith("yaxis") and isinstance(v, dict) and v.get("range") is not None:
            spans = [x["layout"].get(ax, {}).get("range") for x in d]
            spans = [r for r in spans if r is not None]
            layout[ax] = {**v, "range": [min(r[0] for r in spans), max(r[1] for r in spans)]}
    margin = dict(layout.get("margin", {}))
    margin["b"] = margin.get("b", 40) + SCRUB_HEIGHT
    layout.update(
        height=layout.get("height", 600) + SCRUB_HEIGHT,
        margin=margin,
        sliders=[
            dict(
                active=active,
                steps=[
                    dict(method="animate", label=lab, args=[[lab], _SCRUB_STEP]) for lab in labels
                ],
                currentvalue=dict(prefix=f"{title}: ", font=dict(size=13)),
                x=0,
                len=1,
                y=0,
                yanchor="top",
                pad=dict(t=55, b=0),
            )
        ],
    )
    return go.Figure(dict(data=base["data"], layout=layout, frames=frames), _validate=False)


def _general_markers(b: _Builder, view: ScenarioView, row: int) -> None:
    """Critical point (horizontal line), transfer point and turning length on the general panel."""
    t0 = view.transfer_step
    b.add(
        _scatter(
            x=[t0],
            y=[view.start["pt"]],
            mode="markers",
            name="transfer point",
            marker=dict(color="#0f172a", size=9, symbol="circle-open", line=dict(width=2)),
        ),
        row,
    )
    if view.critical_point is not None:
        b.extra_y.setdefault(row, []).append(np.array([view.critical_point]))
        b.hline(
            view.critical_point, row, COLOR["crit"], f"critical point {view.critical_point:.3f}"
        )
    if view.turning_length is not None:
        b.add(
            _scatter(
                x=[t0 + view.turning_length],
                y=[view.start["pt"]],
                mode="markers+text",
                name="turning length",
                text=[f"back to start after {view.turning_length:,} steps"],
                textposition="top center",
                textfont=dict(color=COLOR["turn"], size=11),
                marker=dict(color=COLOR["turn"], size=11, symbol="diamond"),
            ),
            row,
        )


def turning_note(view: ScenarioView) -> str:
    """One sentence on whether the general loss returns to its value at the transfer point."""
    if view.turning_length is not None:
        return (
            f"The general loss returns to its starting value after {view.turning_length:,} CPT "
            "steps (the turning length)."
        )
    if "pt" in view.delta and view.delta["pt"] <= 0 and view.pred["pt"].max() <= view.start["pt"]:
        return "The general loss never rises above its starting value in this scenario."
    return (
        f"The general loss does not return to its starting value within the {view.cpt_steps:,} "
        "CPT steps shown: no turning length within this horizon."
    )


def runs_figure(runs: Sequence[Run], height: int = 560) -> go.Figure:
    """Observed losses (both validation sets) and LR of uploaded runs, one colour per run."""
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        row_heights=[1, 1, 0.6],
    )
    fig.update_layout(
        yaxis_title_text=TARGET_LABEL["pt"],
        yaxis2_title_text=TARGET_LABEL["cpt"],
        yaxis3_title_text="Learning rate",
    )
    for k, run in enumerate(runs):
        c = RUN_COLORS[k % len(RUN_COLORS)]
        for r, t in enumerate(("pt", "cpt"), start=1):
            y = run.loss(t)
            ok = np.isfinite(y)
            if ok.any():
                fig.add_trace(
                    go.Scatter(
                        x=run.step[ok],
                        y=y[ok],
                        name=plotly_text(run.name),
                        legendgroup=run.name,
                        showlegend=r == 1 or not run.has_target("pt"),
                        mode="lines",
                        line=dict(color=c, width=1.5),
                    ),
                    row=r,
                    col=1,
                )
        idx = decimate(run.step, run.lr, max_points=1500)
        fig.add_trace(
            go.Scatter(
                x=run.step[idx],
                y=run.lr[idx],
                name=plotly_text(run.name),
                legendgroup=run.name,
                showlegend=False,
                line=dict(color=c, width=1),
            ),
            row=3,
            col=1,
        )
    fig.update_yaxes(exponentformat="e", row=3, col=1)
    fig.update_xaxes(title_text="step", row=3, col=1)
    return _layout(fig, height, legend_right=True)


@dataclass(frozen=True, eq=False)
class RunFit:
    """A fitted (or predicted) curve for one run and validation set, dense and at observed rows."""

    run: str
    target: str
    held_out: bool
    steps: np.ndarray  # thinned dense steps
    curve: np.ndarray  # law at those steps
    obs_steps: np.ndarray
    observed: np.ndarray
    residual: np.ndarray  # predicted - observed at the observed rows


def run_fit(fit: FitResult, run: Run, held_out: bool, max_points: int = 1500) -> RunFit | None:
    """The law of ``fit`` evaluated along ``run`` (None if the run lacks this validation set or is a
    CPT-only run the fit has no S1pt for)."""
    y = run.loss(fit.target)
    ok = np.isfinite(y)
    if not ok.any():
        return None
    S1pt = fit.S1pt_for(run)
    if not run.pt_history_known and S1pt is None:
        return None
    a = run_areas(run, lam=fit.lam, s2_form=fit.s2_form, eps=fit.eps)
    dense = predict(fit.params, a, run.replay, fit.target, S1pt)
    steps = np.arange(len(dense))
    lr = run.dense_lr()
    lo = int(run.step[0])
    idx = decimate(steps[lo:], lr[lo:], dense[lo:], max_points=max_points) + lo
    at = dense[run.step[ok]]
    return RunFit(
        run.name, fit.target, held_out, steps[idx], dense[idx], run.step[ok], y[ok], at - y[ok]
    )


def fit_figure(curves: Sequence[RunFit], target: str, height: int = 620) -> go.Figure:
    """Observed points, fitted (solid) or held-out predicted (dashed) curves, and residuals below."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        row_heights=[1, 0.45],
    )
    fig.update_layout(
        title=dict(
            text=f"{TARGET_LABEL[target]}: observed (dots), fitted (solid), "
            "held-out prediction (dashed)",
            font=dict(size=14),
        ),
        yaxis_title_text="loss (nats)",
        yaxis2_title_text="law − observed",
    )
    for k, c in enumerate(curves):
        col = RUN_COLORS[k % len(RUN_COLORS)]
        tag = " (held out)" if c.held_out else ""
        fig.add_trace(
            go.Scatter(
                x=c.obs_steps,
                y=c.observed,
                mode="markers",
                name=plotly_text(c.run + tag),
                legendgroup=c.run,
                marker=dict(color=col, size=4, opacity=0.55),
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=c.steps,
                y=c.curve,
                mode="lines",
                legendgroup=c.run,
                showlegend=False,
                name=plotly_text(c.run + (" predicted" if c.held_out else " fitted")),
                line=dict(color=col, width=2, dash="dash" if c.held_out else "solid"),
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=c.obs_steps,
                y=c.residual,
                mode="lines+markers",
                legendgroup=c.run,
                showlegend=False,
                name=plotly_text(c.run),
                line=dict(color=col, width=1, dash="dash" if c.held_out else "solid"),
                marker=dict(size=3),
            ),
            row=2,
            col=1,
        )
    fig.add_hline(y=0, line=dict(color="#334155", width=1), row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    # y-ranges from the observed points past the first 5 % of steps: the law's power term (and a
    # tiny model's first steps) are huge near step 0 and would flatten everything else
    if curves:
        last = max(float(c.obs_steps.max()) for c in curves)
        obs = [c.observed[c.obs_steps >= 0.05 * last] for c in curves]
        res = [c.residual[c.obs_steps >= 0.05 * last] for c in curves]
        for row, vals in ((1, obs), (2, res + [np.zeros(1)])):
            v = np.concatenate(vals) if vals else np.zeros(0)
            v = v[np.isfinite(v)]
            if v.size:
                lo, hi = float(v.min()), float(v.max())
                pad = 0.08 * (hi - lo) if hi > lo else 0.01
                fig.update_yaxes(range=[lo - pad, hi + pad], row=row, col=1)
    return _layout(fig, height, legend_right=True)


def forecast_figure(
    fc: Forecast, run: Run, target_loss: float | None = None, height: int = 640
) -> go.Figure:
    """A running job: observed losses (markers), the forecast of every step (line) with its band,
    the last observed step (dotted) and, on the domain set, the target loss (dashed)."""
    targets = [t for t in ("pt", "cpt") if t in fc.targets]
    fig = make_subplots(rows=len(targets), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    # the CPT phase and a little before it: the power law's first steps would flatten everything
    last = int(fc.step[-1])
    t0 = run.transfer_step if run.pt_history_known and run.has_cpt else 0
    x_lo = max(0, int(t0 - 0.25 * (last - t0))) if t0 else int(0.03 * last)
    for r, t in enumerate(targets, start=1):
        tf, short, c = fc.targets[t], TARGET_SHORT[t], COLOR[t]
        win = fc.step >= x_lo
        vals = [tf.pred[win], run.loss(t)[run.step >= x_lo]]
        if tf.lo is not None:
            vals += [tf.lo[win], tf.hi[win]]
        v = np.concatenate(vals)
        v = v[np.isfinite(v)]
        if v.size:
            pad = 0.06 * max(float(v.max() - v.min()), 1e-3)
            fig.update_yaxes(range=[float(v.min()) - pad, float(v.max()) + pad], row=r, col=1)
        ok = np.isfinite(tf.pred)
        idx = decimate(fc.step[ok], tf.pred[ok], max_points=1500)
        x = fc.step[ok][idx]
        if tf.lo is not None:
            fig.add_trace(
                go.Scatter(
                    x=np.r_[x, x[::-1]],
                    y=np.r_[tf.hi[ok][idx], tf.lo[ok][idx][::-1]],
                    fill="toself",
                    fillcolor=c,
                    opacity=0.15,
                    line=dict(width=0),
                    name=f"band ({short})",
                    hoverinfo="skip",
                ),
                row=r,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=x, y=tf.pred[ok][idx], name=f"forecast ({short})", line=dict(color=c, width=2)
            ),
            row=r,
            col=1,
        )
        y = run.loss(t)
        seen = np.isfinite(y)
        fig.add_trace(
            go.Scatter(
                x=run.step[seen],
                y=y[seen],
                mode="markers",
                marker=dict(color="#0f172a", size=5),
                name=f"observed ({short})",
            ),
            row=r,
            col=1,
        )
        fig.update_yaxes(title_text=TARGET_LABEL[t], row=r, col=1)
        if fc.last_observed_step is not None:
            fig.add_vline(x=fc.last_observed_step, line=dict(dash="dot", color="#64748b"), row=r)
        if t == "cpt" and target_loss is not None:
            fig.add_hline(
                y=target_loss,
                line=dict(dash="dash", color=COLOR["turn"]),
                annotation_text=f"target {target_loss:.3f}",
                row=r,
            )
    fig.update_xaxes(title_text="step", row=len(targets), col=1)
    fig.update_xaxes(range=[x_lo, last])
    return _layout(fig, height)
