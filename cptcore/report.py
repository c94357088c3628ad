"""Present a plan: the figures of the Plan page and a self-contained HTML report, a Markdown summary
and a CSV of the Pareto frontier (no streamlit here).

``build`` runs everything the page and the report show for one goal (plan, objective maps, frontier,
predicted curves, lambda curves) into a ``PlanReport``; the figure builders and exporters read it.
The HTML report embeds plotly.js once (``include_plotlyjs=True`` for the first figure, ``False``
after), so it opens offline: no CDN, no external script.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cptcore.law import NAMES, REPLAY_NAMES
from cptcore.markup import escape_markdown
from cptcore.params_io import ParamSet
from cptcore.plan import (
    Goal,
    Planner,
    PlanResult,
    SearchSpace,
    lambda_sweep,
    map_label,
    objective_map,
    pareto_frontier,
    plan,
    potential_curve,
    turning_length_curve,
)
from cptcore.plots import COLOR, ScenarioView, scenario_figure, scenario_view
from cptcore.scenario import Scenario, simulate
from cptcore.schedules import format_lr

FAMILY_COLOR = {"wsd": "#2563eb", "cosine": "#dc2626", "linear": "#059669", "constant": "#a16207"}
ASSUMPTIONS = (
    "Predictions come from the CPT scaling law (Wang, Tissue et al., ICML 2025, Eq. 4; Eq. 8 when "
    "the parameters model replay) with the parameters listed below; they are only as good as the "
    "fit and only for the data, model size and batch size it was fitted on.",
    "Objective (paper Eq. 5): lambda1 x (change of the general loss) + lambda2 x (change of the "
    "domain loss), changes signed (negative = the loss falls), from the transfer point to the end "
    "of CPT.",
    "The pre-training schedule is held fixed (the current scenario's); only the CPT schedule "
    "family, peak LR, steps, WSD decay fraction and replay ratio are searched, within the bounds "
    "shown.",
    "The law predicts a lower loss for any larger LR scale (a known limitation of the S1/S2 form): "
    "an optimum at the upper peak-LR bound means 'as high as you allow', not a measured optimum.",
    "Turning length (Fig. 13) uses a constant CPT LR at the plan's peak for 100K steps; the loss "
    "potential curve (Fig. 8a) continues CPT from the PT final LR without re-warm-up and compares "
    "final losses.",
)


SWEEP_LAMBDAS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0)


def sweep_for(ps: ParamSet, space: SearchSpace, pt, base: str | None = None) -> pd.DataFrame:
    """The balance-mode optimum per lambda1 (paper Fig. 8b/8c) for a search space and PT schedule
    (or a fitted open ``base`` model, paper §6)."""
    pl = Planner(ps, pt, space, base=base) if base is not None else None
    return lambda_sweep(ps, space, pt, lambdas=SWEEP_LAMBDAS, planner=pl)


@dataclass(frozen=True, eq=False)
class PlanReport:
    """Everything the Plan page and the report show for one goal."""

    ps: ParamSet
    params_label: str
    goal: Goal
    space: SearchSpace
    result: PlanResult
    current: Scenario
    current_view: ScenarioView
    plan_view: ScenarioView | None
    map_replay: tuple  # (replay values, peak LRs, Z)
    map_steps: tuple  # (steps values, peak LRs, Z)
    frontier: pd.DataFrame
    turning: pd.DataFrame
    potential: pd.DataFrame
    sweep: pd.DataFrame | None = None  # balance optimum per lambda1 (Fig. 8b/8c)
    seconds: float = 0.0


def build(
    ps: ParamSet,
    goal: Goal,
    space: SearchSpace,
    current: Scenario,
    params_label: str = "",
    max_points: int = 1500,
    lambda_curves: bool = True,
    sweep: pd.DataFrame | None = None,
) -> PlanReport:
    """Plan for ``goal`` keeping the PT schedule of ``current`` and compute every figure's data."""
    import time

    t0 = time.perf_counter()
    pl = Planner(ps, current.pt, space, base=current.base)
    res = plan(ps, goal, planner=pl)
    cur = scenario_view(simulate(ps, current, bands=False), max_points, label="current scenario")
    pv = None
    if res.feasible:
        sc = res.scenario()  # its band (calibrated, widened outside the fitted range) is drawn
        pv = scenario_view(
            simulate(ps, sc, bands=False), max_points, "recommended", ps=ps, replay=sc.replay
        )
    anchor = res.settings or _nearest_settings(current)
    mr = objective_map(pl, goal, anchor, "replay", n_lr=36, n_x=21)
    ms = objective_map(pl, goal, anchor, "steps", n_lr=36, n_x=24)
    front = pareto_frontier(pl)
    if lambda_curves:
        turning = turning_length_curve(ps, res.scenario() or current)
        potential = (  # an open base model's PT is given: no loss potential to choose (§6)
            potential_curve(ps, res.scenario() or current)
            if current.base is None
            else pd.DataFrame(columns=["lambda1", "potential", "composite"])
        )
        if sweep is None:  # independent of the goal: callers may compute it once (``sweep_for``)
            sweep = lambda_sweep(ps, pl.space, lambdas=SWEEP_LAMBDAS, planner=pl)
    else:
        turning = pd.DataFrame(columns=["lambda1", "turning_length", "status"])
        potential = pd.DataFrame(columns=["lambda1", "potential", "composite"])
    return PlanReport(
        ps, params_label, goal, pl.space, res, current, cur, pv, mr, ms, front, turning,
        potential, sweep, time.perf_counter() - t0,
    )  # fmt: skip


def _nearest_settings(sc: Scenario):
    from cptcore.plan import PlanSettings

    fam = sc.cpt.kind if sc.cpt.kind in FAMILY_COLOR else "cosine"
    return PlanSettings(fam, sc.cpt.peak_lr, sc.replay, sc.cpt.steps, sc.cpt.decay_fraction)


# ------------------------------------------------------------------------------------- figures
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


def lambda_figure(rep: PlanReport, height: int = 360) -> go.Figure:
    """Paper Fig. 13 (turning length vs lambda1), Fig. 8a (optimal loss potential) and Fig. 8b/8c
    (optimal CPT peak LR, and replay when modelled) against lambda1."""
    fig = make_subplots(
        rows=1, cols=3, horizontal_spacing=0.09,
        subplot_titles=("Turning length (Fig. 13)", "Best PT loss potential (Fig. 8a)",
                        "Best CPT peak LR (Fig. 8b)"),
        specs=[[{}, {}, {"secondary_y": True}]],
    )  # fmt: skip
    t = rep.turning
    if len(t):
        tl = t["turning_length"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        never = t["status"].str.startswith("stays").to_numpy()
        fig.add_trace(
            go.Scatter(x=t["lambda1"], y=tl, mode="lines+markers", name="returns after (steps)",
                       line=dict(color=COLOR["turn"])),
            1, 1,
        )  # fmt: skip
        if never.any():
            ymax = np.nanmax(tl) if np.isfinite(tl).any() else 1.0
            fig.add_trace(
                go.Scatter(
                    x=t["lambda1"][never], y=np.full(never.sum(), max(ymax, 1.0) * 1.1),
                    mode="markers", name="stays above (CPT not suitable)",
                    marker=dict(symbol="triangle-up", size=10, color="#dc2626"),
                ),
                1, 1,
            )  # fmt: skip
    p = rep.potential
    if rep.current.base is not None:  # an open base model: its pre-training is given (paper §6)
        fig.add_annotation(
            text="open base model:<br>its pre-training is given,<br>no loss potential to choose",
            xref="paper", yref="paper", x=sum(fig.layout.xaxis2.domain) / 2, y=0.5,
            showarrow=False,
            font=dict(color="#64748b"),
        )  # fmt: skip
    if len(p):
        fig.add_trace(
            go.Scatter(x=p["lambda1"], y=100 * p["potential"], mode="lines+markers",
                       name="best loss potential (%)", line=dict(color=COLOR["crit"])),
            1, 2,
        )  # fmt: skip
    w = rep.sweep
    if w is not None and len(w):
        fig.add_trace(
            go.Scatter(x=w["lambda1"], y=w["peak_lr"], mode="lines+markers",
                       name="best CPT peak LR", line=dict(color=COLOR["pt"])),
            1, 3,
        )  # fmt: skip
        if replay_modelled(rep):
            fig.add_trace(
                go.Scatter(x=w["lambda1"], y=100 * w["replay"], mode="lines+markers",
                           name="best replay (%, Fig. 8c)", line=dict(color=COLOR["cpt"], dash="dot")),
                1, 3, secondary_y=True,
            )  # fmt: skip
            fig.update_yaxes(
                title_text="replay (%)",
                row=1,
                col=3,
                secondary_y=True,
                range=[-3, 103],
                type="linear",
                tickvals=[0, 25, 50, 75, 100],
                showgrid=False,
            )
    _base(fig, height)
    fig.update_annotations(font_size=13)
    fig.update_xaxes(title_text="λ1 (weight of the general loss)", range=[-0.02, 1.02])
    fig.update_yaxes(title_text="CPT steps", row=1, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="PT final LR / peak (%)", row=1, col=2, range=[-3, 103])
    fig.update_yaxes(title_text="peak LR", row=1, col=3, type="log", exponentformat="e",
                     secondary_y=False)  # fmt: skip
    return fig


def replay_modelled(rep: PlanReport) -> bool:
    return all(f.params.a1 is not None for f in rep.ps.fits.values())


def figures(rep: PlanReport) -> dict[str, go.Figure]:
    """The report's figures by name (``TITLES``); no replay map when replay is not modelled."""
    figs = {
        "curves": curves_figure(rep),
        "map_replay": heatmap_figure(rep, "replay"),
        "map_steps": heatmap_figure(rep, "steps"),
        "pareto": pareto_figure(rep),
        "lambda": lambda_figure(rep),
    }
    if not replay_modelled(rep):
        del figs["map_replay"]  # Eq. 4: replay has no effect, the map would be flat
    return figs


# ------------------------------------------------------------------------------------- tables
def settings_rows(rep: PlanReport) -> list[tuple[str, str]]:
    r = rep.result
    rows = []
    if r.settings is not None:
        s = r.settings
        rows += [
            ("CPT schedule", s.family + (f" (last {s.decay_fraction:.0%} decaying)" if s.family == "wsd" else "")),
            ("CPT peak LR", f"{s.peak_lr:.3e}"),
            ("CPT steps", f"{s.steps:,}"),
            ("Replay ratio", f"{s.replay:.1%}"),
            ("CPT warm-up", f"{rep.space.warmup_fraction:.0%} of steps from {rep.space.warmup_from}"),
        ]  # fmt: skip
    rows += [
        ("General loss (D_pt)", _from_to(r.loss_pt_start, r.loss_pt_end)),
        ("Domain loss (D_cpt)", _from_to(r.loss_cpt_start, r.loss_cpt_end)),
        ("Objective", "n/a" if not math.isfinite(r.objective) else f"{r.objective:+.5f}"),
    ]
    return rows


def _from_to(a: float, b: float) -> str:
    if not math.isfinite(b):
        return f"{a:.4f} at the transfer point"
    return f"{a:.4f} → {b:.4f} ({b - a:+.4f})"


def goal_rows(rep: PlanReport) -> list[tuple[str, str]]:
    g, sp = rep.goal, rep.space
    rows = [("Mode", g.mode), ("λ1 (general) / λ2 (domain)", f"{g.lambda1:.2f} / {g.lambda2:.2f}")]
    if g.mode == "max_general_rise":
        rows.append(("Allowed general-loss rise", f"{g.max_general_rise:+.4f}"))
    if g.mode == "domain_target":
        rows.append(("Domain-loss target", f"{g.domain_target:.4f}"))
    if g.ood_weights:
        rows.append(("OOD weights (λ1', λ2')", f"{g.ood_weights[0]:g}, {g.ood_weights[1]:g}"))
    rows += [
        ("Peak LR bounds", f"{format_lr(sp.lr_min)} … {format_lr(sp.lr_max)}"),
        ("Replay bounds", f"{sp.replay_min:.0%} … {sp.replay_max:.0%}"),
        ("CPT steps bounds", f"{sp.steps_min:,} … {sp.steps_max:,}"),
        ("Schedule families", ", ".join(sp.families)),
        ("WSD decay fraction", f"{sp.decay_min:.0%} … {sp.decay_max:.0%}"),
        (
            "Pre-training (fixed)",
            _spec_text(rep.current.pt)
            if rep.current.base is None
            else f"open base model '{rep.current.base}' (unknown PT, fitted S1pt, paper §6)",
        ),
    ]
    return rows


def _spec_text(sp) -> str:
    extra = (
        f", last {sp.decay_fraction:.0%} to {format_lr(sp.final_lr)}" if sp.kind == "wsd" else ""
    )
    return f"{sp.kind}, peak {format_lr(sp.peak_lr)}, {sp.steps:,} steps{extra}"


def param_table(ps: ParamSet) -> pd.DataFrame:
    """Parameters of both validation sets with standard errors where the fit has a covariance."""
    rows = []
    for target, f in ps.fits.items():
        se = f.stderr()
        d = f.params.to_dict()
        for k in (*NAMES, *REPLAY_NAMES):
            if k in d:
                rows.append({"set": "general (pt)" if target == "pt" else "domain (cpt)",
                             "parameter": k, "value": d[k], "stderr": se.get(k, np.nan)})  # fmt: skip
    return pd.DataFrame(rows)


def provenance_rows(rep: PlanReport) -> list[tuple[str, str]]:
    ps = rep.ps
    rows = [("Parameters", rep.params_label or "given"), ("Law", ps.law),
            ("S2 form", ps.s2_form), ("λ (momentum)", f"{ps.lam:g}")]  # fmt: skip
    for k, v in (ps.provenance or {}).items():
        rows.append((f"provenance: {k}", ", ".join(map(str, v)) if isinstance(v, list) else str(v)))
    for t, f in ps.fits.items():
        rows.append((f"fit ({t})", f"{'OK' if f.success else 'NOT CONVERGED'}: {f.message}"))
        for m in f.metrics[:6]:
            rows.append((f"  {t}: {m.name}", f"R² {m.r2:.4f}, MAE {m.mae:.4f}"
                         + (" (held out)" if m.held_out else "")))  # fmt: skip
    return rows


# ------------------------------------------------------------------------------------- exports
def frontier_csv(rep: PlanReport) -> str:
    """The Pareto-optimal grid points as CSV (final and changed losses, settings)."""
    cols = ["family", "peak_lr", "replay", "steps", "decay_fraction", "loss_pt", "loss_cpt",
            "delta_pt", "delta_cpt"]  # fmt: skip
    return rep.frontier.loc[rep.frontier["pareto"], cols].to_csv(index=False, float_format="%.6g")


def _md_table(rows, head=("", "")) -> str:
    """A Markdown table; every cell escaped (run and file names may hold '|', '<img ...>', ...)."""
    out = ["| " + " | ".join(escape_markdown(h) for h in head) + " |"]
    out.append("|" + "---|" * len(head))
    out += ["| " + " | ".join(escape_markdown(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def markdown_summary(rep: PlanReport) -> str:
    """A short Markdown report: the recommendation, goal, parameters and assumptions."""
    r = rep.result
    prm = [
        (row["set"], row["parameter"], f"{row['value']:.5g}",
         "" if not np.isfinite(row["stderr"]) else f"{row['stderr']:.3g}")
        for _, row in param_table(rep.ps).iterrows()
    ]  # fmt: skip
    parts = [
        "# CPT plan",
        f"_Generated {_dt.date.today().isoformat()} by cptcore (Wang, Tissue et al., ICML 2025)._",
        "## Recommendation" if r.feasible else "## No feasible plan",
        escape_markdown(r.summary),
        _md_table(settings_rows(rep), ("", "value")),
        *[f"- {escape_markdown(n)}" for n in r.notes],
        "## Goal and search space",
        _md_table(goal_rows(rep), ("", "value")),
        "## Parameters",
        _md_table(provenance_rows(rep), ("", "")),
        _md_table(prm, ("set", "parameter", "value", "± stderr")),
        "## Assumptions",
        *[f"- {a}" for a in ASSUMPTIONS],
        f"Pareto frontier: {int(rep.frontier['pareto'].sum())} non-dominated of {len(rep.frontier)} "
        "grid points (CSV download).",
    ]
    return "\n\n".join(parts) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:24px auto;
padding:0 16px;color:#0f172a}
h1{margin-bottom:0}.sub{color:#475569;margin-top:4px}
.summary{background:#eff6ff;border-left:4px solid #2563eb;padding:12px 16px;font-size:1.05em}
.bad{background:#fef2f2;border-left-color:#dc2626}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border-bottom:1px solid #e2e8f0;padding:4px 12px;
text-align:left;font-size:.93em}th{background:#f1f5f9}.fig{margin:18px 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
"""


def _html_table(rows, head=None) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in head) if head else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table>{'<tr>' + h + '</tr>' if h else ''}{body}</table>"


def html_report(rep: PlanReport) -> str:
    """A self-contained HTML page: plotly.js inlined once, interactive figures, the recommendation,
    goal, parameters with provenance and standard errors, assumptions and the Pareto frontier."""
    r = rep.result
    figs = figures(rep)
    divs = {}
    first = True
    for name, fig in figs.items():
        divs[name] = fig.to_html(
            full_html=False, include_plotlyjs=True if first else False, div_id=f"plan-{name}",
            config={"displaylogo": False, "responsive": True},
        )  # fmt: skip
        first = False
    pt = param_table(rep.ps)
    prm = [
        (row["set"], row["parameter"], f"{row['value']:.5g}",
         "" if not np.isfinite(row["stderr"]) else f"± {row['stderr']:.3g}")
        for _, row in pt.iterrows()
    ]  # fmt: skip
    fr = rep.frontier[rep.frontier["pareto"]]
    fr_rows = [
        (f.family, format_lr(f.peak_lr), f"{f.replay:.0%}", f"{int(f.steps):,}",
         f"{f.loss_pt:.4f}", f"{f.loss_cpt:.4f}")
        for f in fr.itertuples()
    ]  # fmt: skip
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in r.notes)
    figs_html = "\n".join(
        f'<h3>{html.escape(TITLES[name])}</h3><div class="fig">{div}</div>'
        for name, div in divs.items()
    )
    body = f"""
<h1>CPT plan</h1>
<p class="sub">Generated {_dt.date.today().isoformat()} with cptcore · the continual pre-training
scaling law of Wang, Tissue et al. (ICML 2025, arXiv 2505.07796) · parameters:
{html.escape(rep.params_label or "given")}</p>
<p class="summary{"" if r.feasible else " bad"}">{html.escape(r.summary)}</p>
{"<ul>" + notes + "</ul>" if notes else ""}
<h2>Recommendation</h2>{_html_table(settings_rows(rep))}
{figs_html}
<h2>Goal and search space</h2>{_html_table(goal_rows(rep))}
<h2>Parameters, provenance and uncertainty</h2>{_html_table(provenance_rows(rep))}
{_html_table(prm, ("set", "parameter", "value", "standard error"))}
<h2>Assumptions</h2><ul>{"".join(f"<li>{html.escape(a)}</li>" for a in ASSUMPTIONS)}</ul>
<h2>Pareto frontier ({len(fr)} of {len(rep.frontier)} grid points)</h2>
{_html_table(fr_rows, ("family", "peak LR", "replay", "steps", "general loss", "domain loss"))}
"""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>CPT plan</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def write_html(rep: PlanReport, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(html_report(rep))
