"""Export a plan (``cptcore.plan.study.PlanReport``): a self-contained HTML report, a Markdown summary
and a CSV of the Pareto frontier (no streamlit here, no computing: the figures come from
``cptcore.plots_plan``).

The HTML report embeds plotly.js once (``include_plotlyjs=True`` for the first figure, ``False``
after), so it opens offline: no CDN, no external script.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cptcore.law import NAMES, REPLAY_NAMES
from cptcore.markup import escape_markdown
from cptcore.params_io import ParamSet
from cptcore.plots_plan import TITLES, figures, maps_left_out
from cptcore.schedules import format_lr

if TYPE_CHECKING:
    from cptcore.plan.study import PlanReport

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
        if k == "model_selection" and isinstance(v, dict):
            rows.append(("Model selection", selection_text(v)))
            continue
        rows.append((f"provenance: {k}", ", ".join(map(str, v)) if isinstance(v, list) else str(v)))
    for t, f in ps.fits.items():
        rows.append((f"fit ({t})", f"{'OK' if f.success else 'NOT CONVERGED'}: {f.message}"))
        for m in f.metrics[:6]:
            rows.append((f"  {t}: {m.name}", f"R² {m.r2:.4f}, MAE {m.mae:.4f}"
                         + (" (held out)" if m.held_out else "")))  # fmt: skip
    return rows


def selection_text(sel: dict) -> str:
    """params.json's ``provenance.model_selection`` in one line: the chosen law and lambda and, when
    cross-validated, its score (mean held-out CPT-phase MAE)."""
    law, lam = sel.get("law", "?"), sel.get("lambda")
    out = f"law {law}, λ {lam:g}" if isinstance(lam, (int, float)) else f"law {law}"
    if not sel.get("cross_validated"):
        return out + " (not cross-validated)"
    chosen = [
        c.get("score") for c in sel.get("candidates", ())
        if c.get("law") == law and c.get("lambda") == lam and c.get("s1pt") == sel.get("s1pt")
    ]  # fmt: skip
    score = next((v for v in chosen if isinstance(v, (int, float)) and math.isfinite(v)), None)
    n = len(sel.get("candidates", ()))
    cv = f"CV score {score:.4f} nats (mean held-out CPT-phase MAE)" if score is not None else ""
    return ", ".join(p for p in (out, cv, f"chosen from {n} candidates" if n else "") if p)


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
    left_out = maps_left_out(rep)  # said where the maps would be, after the curves
    figs_html = "\n".join(
        f'<h3>{html.escape(TITLES[name])}</h3><div class="fig">{div}</div>'
        + (f"<p>{html.escape(left_out)}</p>" if left_out and name == "curves" else "")
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
