"""The Plan page's and report's figures (plotly, no streamlit), drawn from a ``PlanReport``
(``cptcore.plan.study``): predicted curves, objective maps, the Pareto frontier and the lambda curves
(paper Fig. 8 and Fig. 13)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cptcore.plots import COLOR, scenario_figure
from cptcore.schedules import format_lr

if TYPE_CHECKING:
    from cptcore.plan.goal import Goal
    from cptcore.plan.study import PlanReport

FAMILY_COLOR = {"wsd": "#2563eb", "cosine": "#dc2626", "linear": "#059669", "constant": "#a16207"}
TITLES = {
    "curves": "Predicted loss: recommended plan (thick) vs current scenario (thin)",
    "map_replay": "Objective over replay ratio × CPT peak LR",
    "map_steps": "Objective over CPT steps × CPT peak LR",
    "pareto": "Trade-off: final general vs domain loss (lower-left is better)",
    "lambda": "How the answer depends on λ1, the weight of the general loss",
}


def _base(fig: go.Figure, height: int) -> go.Figure:
    """Shared layout; titles live in the page / report headings (``TITLES``), legends below."""
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        template="plotly_white",
        legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0),
    )
    return fig


def _short_label(goal: Goal) -> str:
    return {"balance": "objective", "max_general_rise": "Δ target loss"}.get(
        goal.mode, "final target loss"
    )


def map_label(goal: Goal) -> str:
    if goal.mode == "balance":
        w1, w2 = goal.weights
        return f"{w1:g}·ΔL_pt + {w2:g}·ΔL_cpt"
    if goal.mode == "max_general_rise":
        return f"Δ {goal.target_name} (blank: general rise > {goal.max_general_rise:g})"
    return f"final {goal.target_name}"


def heatmap_figure(rep: PlanReport, x: str = "replay", height: int = 420) -> go.Figure:
    """Objective over (replay x peak LR) or (CPT steps x peak LR), the optimum marked."""
    xs, lrs, Z = rep.map_replay if x == "replay" else rep.map_steps
    s = rep.result.settings
    xv = np.asarray(xs, float) * (100 if x == "replay" else 1)
    xlab = "replay ratio (%)" if x == "replay" else "CPT steps"
    fig = go.Figure(
        go.Heatmap(
            x=xv,
            y=lrs,
            z=Z,
            colorscale="Viridis",
            reversescale=rep.goal.mode == "domain_target",
            colorbar=dict(title=dict(text=_short_label(rep.goal), side="right"), thickness=12),
            hovertemplate=f"{xlab}: %{{x:.4g}}<br>peak LR: %{{y:.3g}}<br>"
            f"{map_label(rep.goal)}: %{{z:.4f}}<extra></extra>",
        )
    )
    if s is not None:
        sx = s.replay * 100 if x == "replay" else s.steps
        fig.add_trace(
            go.Scatter(
                x=[sx],
                y=[s.peak_lr],
                mode="markers",
                name="recommended",
                marker=dict(
                    symbol="star", size=16, color="white", line=dict(color="black", width=1.5)
                ),
                hovertemplate="recommended<extra></extra>",
            )
        )
    fixed = (
        f"{s.family}, {s.steps:,} steps" if x == "replay" else f"{s.family}, replay {s.replay:.0%}"
    ) if s else ""  # fmt: skip
    _base(fig, height)
    fig.update_layout(showlegend=False)
    note = f"held at the plan: {fixed}" if fixed else map_label(rep.goal)
    fig.add_annotation(
        text=note, xref="paper", yref="paper", x=0, y=1.0, yanchor="bottom", xanchor="left",
        showarrow=False, font=dict(size=11, color="#475569"),
    )  # fmt: skip
    fig.update_yaxes(type="log", title_text="CPT peak LR", exponentformat="e")
    fig.update_xaxes(title_text=xlab, type="log" if x == "steps" else "linear")
    return fig


def pareto_figure(rep: PlanReport, height: int = 460) -> go.Figure:
    """Final general vs domain loss over the search grid; non-dominated points joined."""
    df = rep.frontier
    fig = go.Figure()
    for fam, d in df.groupby("family", sort=False):
        fig.add_trace(
            go.Scattergl(
                x=d["loss_pt"],
                y=d["loss_cpt"],
                mode="markers",
                name=f"{fam} (grid)",
                marker=dict(size=5, color=FAMILY_COLOR.get(fam, "#64748b"), opacity=0.35),
                customdata=np.c_[d["peak_lr"], d["replay"] * 100, d["steps"]],
                hovertemplate="general %{x:.4f}, domain %{y:.4f}<br>peak LR %{customdata[0]:.2e}, "
                "replay %{customdata[1]:.0f}%, %{customdata[2]:,} steps<extra>" + fam + "</extra>",
            )
        )
    f = df[df["pareto"]]
    fig.add_trace(
        go.Scatter(
            x=f["loss_pt"], y=f["loss_cpt"], mode="lines+markers", name="Pareto frontier",
            line=dict(color="#0f172a", width=2), marker=dict(size=6),
            customdata=np.c_[f["peak_lr"], f["replay"] * 100, f["steps"]],
            hovertemplate="general %{x:.4f}, domain %{y:.4f}<br>peak LR %{customdata[0]:.2e}, "
            "replay %{customdata[1]:.0f}%, %{customdata[2]:,} steps<extra>frontier</extra>",
        )
    )  # fmt: skip
    cv = rep.current_view
    pts = [("transfer point (start)", cv.start["pt"], cv.start["cpt"], "circle-open", "#0f172a")]
    pts.append(
        ("current scenario", cv.start["pt"] + cv.delta["pt"], cv.start["cpt"] + cv.delta["cpt"],
         "x", "#be185d")
    )  # fmt: skip
    r = rep.result
    if r.feasible:
        pts.append(("recommended", r.loss_pt_end, r.loss_cpt_end, "star", "#f59e0b"))
    for name, x, y, sym, col in pts:
        fig.add_trace(
            go.Scatter(
                x=[x], y=[y], mode="markers", name=name,
                marker=dict(symbol=sym, size=15, color=col, line=dict(color="black", width=1)),
                hovertemplate=f"{name}<br>general %{{x:.4f}}, domain %{{y:.4f}}<extra></extra>",
            )
        )  # fmt: skip
    _base(fig, height)
    fig.update_xaxes(title_text="general loss at the end of CPT (D_pt)")
    fig.update_yaxes(title_text="domain loss at the end of CPT (D_cpt)")
    return fig


def curves_figure(rep: PlanReport, height: int = 640) -> go.Figure:
    """Predicted general and domain loss of the recommended plan against the current scenario."""
    if rep.plan_view is None:
        return scenario_figure(rep.current_view, hidden=False, bands=False, height=height)
    return scenario_figure(
        rep.plan_view, pins=[rep.current_view], hidden=False, bands=True, height=height,
        window="cpt",
    )  # fmt: skip


LAMBDA_PANELS = (
    ("turning", "Turning length (Fig. 13)"),
    ("potential", "Best PT loss potential (Fig. 8a)"),
    ("sweep", "Best CPT peak LR (Fig. 8b)"),
)


def lambda_figure(rep: PlanReport, height: int = 360) -> go.Figure:
    """Paper Fig. 13 (turning length vs lambda1), Fig. 8a (optimal loss potential) and Fig. 8b/8c
    (optimal CPT peak LR, and replay when modelled) against lambda1, side by side (the report)."""
    fig = make_subplots(
        rows=1, cols=3, horizontal_spacing=0.09,
        subplot_titles=[title for _, title in LAMBDA_PANELS],
        specs=[[{}, {}, {"secondary_y": True}]],
    )  # fmt: skip
    for col, (panel, _) in enumerate(LAMBDA_PANELS, start=1):
        _LAMBDA_DRAW[panel](fig, rep, col)
    _base(fig, height)
    fig.update_annotations(font_size=13)
    fig.update_xaxes(title_text="λ1 (weight of the general loss)", range=[-0.02, 1.02])
    return fig


def lambda_panels(rep: PlanReport, height: int = 340) -> list[go.Figure]:
    """The three panels of ``lambda_figure`` as figures of their own, for a page that lays them out
    side by side where there is room and stacked where there is not."""
    out = []
    for panel, title in LAMBDA_PANELS:
        fig = make_subplots(rows=1, cols=1, specs=[[{"secondary_y": panel == "sweep"}]])
        _LAMBDA_DRAW[panel](fig, rep, 1)
        _base(fig, height)
        fig.update_layout(title=dict(text=title, font_size=13, x=0, xanchor="left"))
        fig.update_layout(margin=dict(t=40))
        fig.update_xaxes(title_text="λ1 (weight of the general loss)", range=[-0.02, 1.02])
        out.append(fig)
    return out


def _turning_panel(fig: go.Figure, rep: PlanReport, col: int) -> None:
    if len(rep.turning):
        _turning_traces(fig, rep.turning, col)
    fig.update_yaxes(title_text="CPT steps", row=1, col=col, rangemode="tozero")


def _potential_panel(fig: go.Figure, rep: PlanReport, col: int) -> None:
    if rep.current.base is not None:  # an open base model: its pre-training is given (paper §6)
        dom = fig.layout["xaxis" if col == 1 else f"xaxis{col}"].domain
        fig.add_annotation(
            text="open base model:<br>its pre-training is unknown (S1pt fitted),<br>"
            "no loss potential to choose",
            xref="paper", yref="paper", x=sum(dom) / 2, y=0.5,
            showarrow=False,
            font=dict(color="#64748b"),
        )  # fmt: skip
    p = rep.potential
    if len(p):
        fig.add_trace(
            go.Scatter(x=p["lambda1"], y=100 * p["potential"], mode="lines+markers",
                       name="best loss potential (%)", line=dict(color=COLOR["crit"])),
            1, col,
        )  # fmt: skip
    fig.update_yaxes(title_text="PT final LR / peak (%)", row=1, col=col, range=[-3, 103])


def lr_axis(values) -> dict:
    """A log axis over the peak LRs ``values`` whose tick labels never crowd, even in a short
    panel: a third of a decade beyond the data (plotly's autorange gave a single LR two decades),
    labels at 1-2-5 within two decades and at whole decades beyond (plotly labelled every digit
    in between: at 800 px '4 5 6 7 8 9' overlapped)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return dict(type="log", exponentformat="e", dtick=1)
    lo, hi = math.log10(v.min()) - 0.35, math.log10(v.max()) + 0.35
    return dict(type="log", exponentformat="e", range=[lo, hi], dtick="D2" if hi - lo <= 2 else 1)


def _sweep_panel(fig: go.Figure, rep: PlanReport, col: int) -> None:
    has = rep.sweep is not None and len(rep.sweep)
    if has:
        _sweep_traces(fig, rep.sweep, rep.ps.models_replay, col)
    axis = lr_axis(rep.sweep["peak_lr"] if has else [])
    fig.update_yaxes(title_text="peak LR", row=1, col=col, secondary_y=False, **axis)


_LAMBDA_DRAW = {"turning": _turning_panel, "potential": _potential_panel, "sweep": _sweep_panel}


def _turning_traces(fig: go.Figure, t, col: int = 1) -> None:
    """Fig. 13 panel: the turning length per lambda1, a marker where it never comes back (<NA>)."""
    tl = t["turning_length"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    never = t["turning_length"].isna().to_numpy()
    fig.add_trace(
        go.Scatter(x=t["lambda1"], y=tl, mode="lines+markers", name="returns after (steps)",
                   line=dict(color=COLOR["turn"])),
        1, col,
    )  # fmt: skip
    if never.any():
        ymax = np.nanmax(tl) if np.isfinite(tl).any() else 1.0
        fig.add_trace(
            go.Scatter(
                x=t["lambda1"][never], y=np.full(never.sum(), max(ymax, 1.0) * 1.1),
                mode="markers", name="stays above (CPT not suitable)",
                marker=dict(symbol="triangle-up", size=10, color="#dc2626"),
            ),
            1, col,
        )  # fmt: skip


def _sweep_traces(fig: go.Figure, w, replay: bool, col: int = 3) -> None:
    """Fig. 8b/8c panel: the best peak LR per lambda1, and the best replay when it is modelled."""
    fig.add_trace(
        go.Scatter(x=w["lambda1"], y=w["peak_lr"], mode="lines+markers",
                   name="best CPT peak LR", line=dict(color=COLOR["pt"])),
        1, col,
    )  # fmt: skip
    if not replay:
        return
    fig.add_trace(
        go.Scatter(x=w["lambda1"], y=100 * w["replay"], mode="lines+markers",
                   name="best replay (%, Fig. 8c)", line=dict(color=COLOR["cpt"], dash="dot")),
        1, col, secondary_y=True,
    )  # fmt: skip
    fig.update_yaxes(title_text="replay (%)", row=1, col=col, secondary_y=True, range=[-3, 103],
                     type="linear", tickvals=[0, 25, 50, 75, 100], showgrid=False)  # fmt: skip


def map_names(rep: PlanReport) -> tuple[str, ...]:
    """The objective maps worth drawing (page and report): none over peak LR when the search holds
    it at one value (they would be empty), no replay map when replay is not modelled (Eq. 4: flat)."""
    if rep.space.lr_min == rep.space.lr_max:
        return ()
    return ("map_replay", "map_steps") if rep.ps.models_replay else ("map_steps",)


def maps_left_out(rep: PlanReport) -> str | None:
    """One sentence saying that and why the maps over peak LR are left out, or None when drawn."""
    sp = rep.space
    if sp.lr_min != sp.lr_max:
        return None
    env = rep.ps.envelope
    fitted = env is not None and all(
        math.isclose(v, sp.lr_min, rel_tol=1e-9) for v in env.cpt_peak_lr
    )
    return (
        f"The maps over peak LR are left out: the search holds the peak LR at "
        f"{format_lr(sp.lr_min)}" + (" (the only one the fitted runs had)." if fitted else ".")
    )


def figures(rep: PlanReport) -> dict[str, go.Figure]:
    """The report's figures by name (``TITLES``); the maps only those of ``map_names``."""
    figs = {"curves": curves_figure(rep)}
    figs.update({m: heatmap_figure(rep, m.removeprefix("map_")) for m in map_names(rep)})
    figs["pareto"] = pareto_figure(rep)
    figs["lambda"] = lambda_figure(rep)
    return figs
