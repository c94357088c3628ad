"""Plotly figures shared by the pages (no streamlit): scenarios, fitted runs, residuals.

Pages get a thinned scenario from ``cptcore.scenario.view`` (cheap to cache: a few thousand points
per curve) and draw it with ``scenario_figure``; the Fit page uses ``runs_figure`` and ``fit_figure``.
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

from cptcore.areas import is_sparse, row_areas
from cptcore.decimate import decimate
from cptcore.fit import FitResult
from cptcore.forecast import Forecast
from cptcore.law import predict, term_formulas
from cptcore.markup import plotly_text
from cptcore.runs import Run
from cptcore.scenario import ScenarioView, scenario_view  # noqa: F401  (re-exported for pages)

TARGET_LABEL = {"pt": "General loss (D_pt)", "cpt": "Domain loss (D_cpt)"}
TARGET_SHORT = {"pt": "general", "cpt": "domain"}
COLOR = {"pt": "#2563eb", "cpt": "#dc2626", "lr": "#475569", "crit": "#7c3aed", "turn": "#059669"}
TERM_NAME = {"power": "power law", "anneal": "annealing", "shift": "distribution shift"}
TERM_COLOR = {"power": "#0891b2", "anneal": "#ea580c", "shift": "#9333ea"}
PIN_COLORS = ("#64748b", "#a16207", "#0f766e", "#be185d")
RUN_COLORS = qualitative.D3 + qualitative.Set2


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
        """A dotted vertical line through every panel, labelled right of it in the gap above the
        panel ``label_row``, where no curve is drawn (inside the LR panel the re-warm-up crossed
        the label)."""
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
                yanchor="bottom",
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
    for r, t in enumerate(tgts, start=1):
        _loss_panel(b, view, t, r, hidden=hidden, bands=bands, pins=pins, markers=markers)
    if terms_of and terms_of in view.terms:
        _terms_panel(b, view, terms_of, len(tgts) + 1)
    _lr_panel(b, view, pins, n, markers)
    end = float(view.steps[-1])
    # the y-range ignores the first steps, where the power law is huge (also when a "cpt" window
    # of a short pre-training reaches back to step 0)
    y_from = 0.03 * end
    x_lo = float(max(0, view.transfer_step - max(view.cpt_steps, 1))) if window == "cpt" else y_from
    return b.figure(height or (230 * (n - 1) + 170), x_lo, end if window == "cpt" else None, y_from)


def _loss_panel(
    b: _Builder,
    view: ScenarioView,
    t: str,
    row: int,
    *,
    hidden: bool,
    bands: bool,
    pins: Sequence[ScenarioView],
    markers: bool,
) -> None:
    """One validation set's panel: band, hidden curves, pinned scenarios, the predicted loss and,
    on the general set, the transfer point, critical point and turning length."""
    band = view.band.get(t)
    if bands and band is not None:
        _band(b, view.steps, band, row)
    if hidden:
        _hidden(b, view, t, row)
    for k, pin in enumerate(pins):
        if t in pin.pred:
            pin_line = _pin_line(pin, k, pin.pred[t], showlegend=row == 1, opacity=0.8)
            b.add(pin_line, row, fit=True)
    line = dict(color=COLOR[t], width=2.5)
    b.add(
        _scatter(x=view.steps, y=view.pred[t], name=f"predicted {TARGET_SHORT[t]} loss", line=line),
        row,
        fit=True,
    )
    if markers and t == "pt":
        _general_markers(b, view, row)


def _band(b: _Builder, x: np.ndarray, band: tuple, row: int) -> None:
    """The ~95 % band: its upper edge, then the lower edge filled up to it."""
    b.add(_scatter(x=x, y=band[1], line=dict(width=0), showlegend=False, hoverinfo="skip"), row)
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
            showlegend=row == 1,
        ),
        row,
    )


def _hidden(b: _Builder, view: ScenarioView, t: str, row: int) -> None:
    """The hidden curves (paper §2.2): continue PT on D_pt (dashed), trained on D_cpt (dotted)."""
    for y, name, color, dash, group in (
        (view.hidden_pt[t], "hidden: continue PT on D_pt", "#94a3b8", "dash", "hpt"),
        (view.hidden_cpt[t], "hidden: trained on D_cpt", "#f59e0b", "dot", "hcpt"),
    ):
        line = dict(color=color, dash=dash, width=1.5)
        trace = _scatter(x=view.steps, y=y, name=name, line=line, legendgroup=group)
        trace["showlegend"] = row == 1
        b.add(trace, row, fit=True)


def _pin_line(
    pin: ScenarioView, k: int, y: np.ndarray, *, showlegend: bool, opacity: float | None = None
) -> dict:
    """A pinned scenario's thin line (its loss or its LR), grouped with its legend entry."""
    trace = _scatter(
        x=pin.steps,
        y=y,
        name=pin.label or f"pin {k + 1}",
        line=dict(color=PIN_COLORS[k % len(PIN_COLORS)], width=1),
        legendgroup=f"pin{k}",
        showlegend=showlegend,
    )
    if opacity is not None:
        trace["opacity"] = opacity
    return trace


def _terms_panel(b: _Builder, view: ScenarioView, target: str, row: int) -> None:
    """The law's terms of one validation set: power law, annealing, distribution shift, each named
    by its formula in the view's law form (Eq. 4, Eq. 8, the tau-form...)."""
    formulas = term_formulas(view.laws.get(target, "eq4"), target)
    for name, y in view.terms[target].items():
        line = dict(color=TERM_COLOR[name], width=1.5)
        label = f"{TERM_NAME[name]}  {formulas[name]}"
        b.add(_scatter(x=view.steps, y=y, name=label, line=line), row, fit=True)


def _lr_panel(
    b: _Builder, view: ScenarioView, pins: Sequence[ScenarioView], row: int, markers: bool
) -> None:
    """The LR schedules (pinned ones thin) in the bottom panel, the step axis and the CPT start."""
    for k, pin in enumerate(pins):
        b.add(_pin_line(pin, k, pin.lr, showlegend=False), row)
    line = dict(color=COLOR["lr"], width=2)
    b.add(_scatter(x=view.steps, y=view.lr, name="learning rate", showlegend=False, line=line), row)
    b.axis("y", row)["exponentformat"] = "e"
    b.axis("x", row)["title"] = dict(text="step")
    if markers:
        b.vline(view.transfer_step, "CPT starts", row)


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


def _data_span(figs: Sequence[dict], axis: str) -> list[float] | None:
    """[low, high] of every trace's y on ``axis`` ('y', 'y2', ...) over the figures, padded by 5 %
    (as plotly's autorange pads), or None when the axis has no finite data."""
    ys = [
        np.asarray(_arr(t.get("y")), dtype=float)
        for f in figs
        for t in f["data"]
        if t.get("yaxis", "y") == axis and t.get("y") is not None
    ]
    ys = [y[np.isfinite(y)] for y in ys if y.size]
    ys = [y for y in ys if y.size]
    if not ys:
        return None
    lo, hi = min(float(y.min()) for y in ys), max(float(y.max()) for y in ys)
    pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-12)
    return [lo - pad, hi + pad]


def framed_figure(figs: Sequence[go.Figure], names: Sequence[str], active: int) -> go.Figure:
    """``figs[active]`` with one plotly frame per figure, named ``names``: the browser can swap
    in another figure's curves (``Plotly.animate``) without a full redraw.

    The figures are one chart drawn for neighbouring settings with the same options and steps;
    each frame carries only the traces that change, as float32 y values at ``figs[active]``'s
    steps. The y-axes span every frame, so they stay put while switching. Layout items (lines,
    notes) stay those of ``figs[active]``."""
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
        for lab, f in zip(names, sent, strict=True)
    ]
    layout = base["layout"]
    _span_frames(layout, d)
    return go.Figure(dict(data=base["data"], layout=layout, frames=frames), _validate=False)


def _span_frames(layout: dict, d: list) -> None:
    """Fix ``layout``'s y-axes to span every figure of ``d`` (frames do not re-autorange)."""
    for ax, v in layout.items():
        if ax.startswith("yaxis") and isinstance(v, dict) and v.get("range") is not None:
            spans = [x["layout"].get(ax, {}).get("range") for x in d]
            spans = [r for r in spans if r is not None]
            layout[ax] = {**v, "range": [min(r[0] for r in spans), max(r[1] for r in spans)]}
        elif ax.startswith("yaxis") and isinstance(v, dict) and v.get("type") != "log":
            span = _data_span(d, "y" + ax[len("yaxis") :])  # autoranged (e.g. the LR panel)
            if span is not None:  # frames do not re-autorange: fix it to every frame's data
                layout[ax] = {**v, "range": span, "autorange": False}


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
    if view.turning_length:  # 0: never rose, nothing to mark
        x = t0 + view.turning_length
        lo, hi = float(view.steps[0]), float(view.steps[-1])
        near_end = x > lo + 0.8 * (hi - lo)  # a centred label would run off the chart's right
        b.add(
            _scatter(
                x=[x],
                y=[view.start["pt"]],
                mode="markers+text",
                name="turning length",
                text=[f"back to start after {view.turning_length:,} steps"],
                textposition="top left" if near_end else "top center",
                textfont=dict(color=COLOR["turn"], size=11),
                marker=dict(color=COLOR["turn"], size=11, symbol="diamond"),
            ),
            row,
        )


def turning_note(view: ScenarioView) -> str:
    """One sentence on whether the general loss returns to its value at the transfer point."""
    if view.turning_length == 0:
        return "The general loss never rises above its starting value in this scenario."
    if view.turning_length is not None:
        return (
            f"The general loss returns to its starting value after {view.turning_length:,} CPT "
            "steps (the turning length)."
        )
    return (
        f"The general loss does not return to its starting value within the {view.cpt_steps:,} "
        "CPT steps shown: no turning length within this horizon."
    )


def critical_note(view: ScenarioView) -> str:
    """One sentence on the critical point (paper §4.3): its value, or why there is none."""
    if view.critical_point is not None:
        return (
            f"Critical point (the general loss the hidden D_cpt curve converges to): "
            f"{view.critical_point:.3f}."
        )
    if view.critical_note:
        return f"No critical point: {view.critical_note}, so L0 + B is not known."
    return ""


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
    fit_from: int = 0  # the fit used losses from this step on (``FitResult.min_step``)


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
    lo = int(run.step[0])
    if is_sparse(run):
        # the law only where it is drawn: the rows (the LR's corners) and an even sample between
        steps = np.union1d(run.step, np.linspace(lo, run.last_step, max_points).round())
    else:
        steps = np.arange(lo, run.last_step + 1)
    steps = steps.astype(np.int64)
    a = row_areas(run, lam=fit.lam, s2_form=fit.s2_form, eps=fit.eps, at=steps)
    curve = predict(fit.params, a, run.replay, fit.target, S1pt)
    lr = np.interp(steps, run.step, run.lr)  # as Run.dense_lr
    idx = decimate(steps, lr, curve, max_points=max_points)
    at = curve[np.searchsorted(steps, run.step[ok])]
    return RunFit(
        run.name,
        fit.target,
        held_out,
        steps[idx],
        curve[idx],
        run.step[ok],
        y[ok],
        at - y[ok],
        int(fit.min_step),
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
        title=dict(  # two short lines: one line was cut at 800 px ("... held-out prediction (dash")
            text=f"{TARGET_LABEL[target]}<br><span style='font-size:12px;font-weight:normal'>"
            "observed (dots), fitted (solid), held out (dashed)</span>",
            font=dict(size=14),
            yref="container",
            y=0.985,
            yanchor="top",
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
    # y-ranges from the observed points past the first 5 % of steps and the step the fit starts
    # from: the law's power term (and a tiny model's first steps) are huge near step 0, and the
    # residuals before the fitted rows would flatten the fitted ones to a line at 0
    if curves:
        last = max(float(c.obs_steps.max()) for c in curves)
        shown = [c.obs_steps >= max(0.05 * last, c.fit_from) for c in curves]
        obs = [c.observed[m] for c, m in zip(curves, shown, strict=True)]
        res = [c.residual[m] for c, m in zip(curves, shown, strict=True)]
        for row, vals in ((1, obs), (2, res + [np.zeros(1)])):
            v = np.concatenate(vals) if vals else np.zeros(0)
            v = v[np.isfinite(v)]
            if v.size:
                lo, hi = float(v.min()), float(v.max())
                pad = 0.08 * (hi - lo) if hi > lo else 0.01
                fig.update_yaxes(range=[lo - pad, hi + pad], row=row, col=1)
    # the runs' legend below the chart: at the right, 16 run names took half a narrow window
    _layout(fig, height)
    return fig.update_layout(
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0, font_size=11),
        margin=dict(t=60),
    )


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
