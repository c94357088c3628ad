"""The Fit page's fit: both validation sets, progress reporting, held-out evaluation, and the result
kept in session state (``ui.state.LAST_FIT``).

Progress and the cache: ``st.cache_data`` records every Streamlit call made while a cached function
runs and replays it on a cache hit, and a progress bar created outside the function cannot be
replayed (``CacheReplayClosureError`` on the second fit in the server process, dashboard notes). So
the cached fit never touches Streamlit: it runs in a worker thread and reports to a plain holder,
and the script's own thread draws the progress (``_in_worker``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from cptcore.errors import InputError
from cptcore.fit import FitResult, RunMetrics, evaluate, has_fit_rows
from cptcore.params_io import ParamSet
from cptcore.runs import TARGETS, Run
from cptcore.select import Selection, fit_model
from cptcore.whatif import PAPER_WHATIF, WhatIf, whatif_from_run
from ui.data import ActiveFit, token_of


@dataclass(frozen=True, eq=False)
class FitOutcome:
    fits: dict  # target -> FitResult
    fitted: tuple[str, ...]
    held_out: tuple[str, ...]
    held_metrics: dict  # target -> tuple[RunMetrics, ...]
    law: str
    s2_form: str
    seconds: float
    param_set: ParamSet
    token: str
    defaults: WhatIf
    selection: Selection | None = None  # what model selection tried and chose
    cached: bool = False  # taken from the cache (``seconds``: the time of the fit when computed)

    def metrics(self, target: str) -> tuple[RunMetrics, ...]:
        return tuple(self.fits[target].metrics) + tuple(self.held_metrics.get(target, ()))

    def active(self) -> ActiveFit:
        n = len(self.fitted)
        summary = (
            f"Your fit ({self.law}, S2 {self.s2_form}) on {n} run{'s' if n != 1 else ''}: "
            + ", ".join(self.fitted[:4])
            + (" …" if n > 4 else "")
            + "."
        )
        return ActiveFit(self.param_set, self.token, self.defaults, summary)


def run_digest(run: Run) -> str:
    """A hash of everything in a run the fit depends on (the cache key of a fit)."""
    h = hashlib.sha1(run.name.encode())
    for a in (run.step, run.lr, run.is_cpt, run.loss_pt, run.loss_cpt):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr(run.replay).encode())
    return h.hexdigest()


def check_fit_rows(
    runs: dict[str, Run], fitted: Sequence[str], held_out: Sequence[str], min_step: int
) -> None:
    """Raise ``InputError`` naming the first chosen run that has a validation loss but no row the
    fit could use (e.g. a short run and a large 'Fit from step'); the fitter needs every run it is
    given to contribute at least one loss."""
    targets = [t for t in TARGETS if any(runs[n].has_target(t) for n in fitted)]
    for names, box in ((fitted, "Fit on"), (held_out, "Hold out")):
        for name in names:
            run = runs[name]
            for t in targets:
                if not run.has_target(t) or has_fit_rows(run, t, min_step):
                    continue
                label = "general losses (loss_pt)" if t == "pt" else "domain losses (loss_cpt)"
                if min_step:
                    raise InputError(
                        f"no {label} at or after step {min_step:,} (the run ends at step "
                        f"{run.last_step:,})",
                        source=name,
                        fix=f"Lower 'Fit from step' or take the run out of '{box}'",
                    )
                raise InputError(
                    f"no {label} after the pre-training warm-up",
                    source=name,
                    fix=f"Take the run out of '{box}'",
                )


def run_fit(
    runs: dict[str, Run],
    fitted: Sequence[str],
    held_out: Sequence[str],
    law: str,
    s2_form: str,
    lam: float | str = "auto",
    progress: Callable[[float, str], None] | None = None,
    min_step: int = 0,
) -> FitOutcome:
    """Fit each validation set the fitted runs observe, then score the held-out runs. Cached on the
    runs' contents and the settings: the same fit (e.g. of the sample runs) is computed once per
    server process. ``progress(fraction, message)`` is called from this thread (it may draw)."""
    check_fit_rows(runs, fitted, held_out, min_step)
    key = tuple(run_digest(runs[n]) for n in (*fitted, *held_out))
    computed: list = []  # the cached function's body appends to it: empty after a cache hit
    args = (key, tuple(fitted), tuple(held_out), law, s2_form, lam, int(min_step), runs)
    out = _in_worker(lambda report: _cached_fit(*args, report, computed), progress)
    return out if computed else dataclasses.replace(out, cached=True)


def _in_worker(compute: Callable, progress: Callable[[float, str], None] | None):
    """``compute(report)`` run in a worker thread; its latest ``report(fraction, message)`` is passed
    on to ``progress`` from the calling thread, which is the only one that draws."""
    lock = threading.Lock()
    latest: list[tuple[float, str]] = []
    out: dict = {}

    def report(frac: float, msg: str) -> None:
        with lock:
            latest[:] = [(frac, msg)]

    def work() -> None:
        try:
            out["value"] = compute(report)
        except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread
            out["error"] = e

    worker = threading.Thread(target=work, name="cpt-fit", daemon=True)
    worker.start()
    shown = None
    while worker.is_alive():
        worker.join(0.1)
        with lock:
            now = latest[0] if latest else None
        if progress is not None and now is not None and now != shown:
            progress(*now)  # a rerun requested meanwhile stops the script here; the fit goes on
            shown = now
    if "error" in out:
        raise out["error"]
    return out["value"]


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_fit(
    key: tuple,
    fitted: tuple[str, ...],
    held_out: tuple[str, ...],
    law: str,
    s2_form: str,
    lam: float | str,
    min_step: int,
    _runs: dict[str, Run],
    _report: Callable[[float, str], None] | None,
    _computed: list,
) -> FitOutcome:
    # no Streamlit call in here (nor in _report): a cache hit replays them (module docstring)
    _computed.append(True)
    return _fit(_runs, fitted, held_out, law, s2_form, lam, _report, min_step)


def _fit(
    runs: dict[str, Run],
    fitted: Sequence[str],
    held_out: Sequence[str],
    law: str,
    s2_form: str,
    lam: float | str,
    progress: Callable[[float, str], None] | None = None,
    min_step: int = 0,
) -> FitOutcome:
    fit_runs = [runs[n] for n in fitted]
    held_runs = [runs[n] for n in held_out]
    targets = [t for t in TARGETS if any(r.has_target(t) for r in fit_runs)]
    if not targets:
        raise InputError(
            "the runs chosen for fitting have no validation losses",
            fix="Choose runs with a loss_pt or loss_cpt column",
        )
    t0 = time.perf_counter()
    result = fit_model(
        fit_runs, (), law, lam, progress=progress, s2_form=s2_form, min_step=min_step
    )
    fits: dict[str, FitResult] = result.fits
    held = {t: evaluate(f, held_runs, held_out=True) for t, f in fits.items()}
    seconds = time.perf_counter() - t0
    sel = result.selection
    law = sel.law
    ps = ParamSet.from_fits(
        fits,
        envelope=result.envelope,
        provenance={
            "source": "CPT dashboard, Fit page",
            "created": dt.date.today().isoformat(),
            "fitted_runs": list(fitted),
            "held_out_runs": list(held_out),
            "law": law,
            "lambda": sel.lam,
            "model_selection": sel.to_dict(),
        },
    )
    cands = [r for r in fit_runs if r.has_cpt and r.pt_history_known]
    cands = cands or [r for r in fit_runs if r.has_cpt]  # CPT-only runs: their CPT settings
    defaults = whatif_from_run(cands[0]) if cands else PAPER_WHATIF
    return FitOutcome(
        fits,
        tuple(fitted),
        tuple(held_out),
        held,
        law,
        s2_form,
        seconds,
        ps,
        token_of(ps),
        defaults,
        sel,
    )


def selection_table(sel: Selection) -> pd.DataFrame:
    """The candidates model selection scored, best first, for the Fit page."""
    rows = [
        {
            "law": c.law,
            "λ": c.lam,
            "general (held-out MAE)": c.scores.get("pt", np.nan),
            "domain (held-out MAE)": c.scores.get("cpt", np.nan),
            "mean": c.score,
            **({"S1pt": c.s1pt} if sel.s1pt else {}),  # CPT-only runs: shared or per set
            "chosen": (c.law, c.lam) == (sel.law, sel.lam) and c.s1pt == (sel.s1pt or c.s1pt),
        }
        for c in sel.candidates
    ]
    return pd.DataFrame(rows).sort_values("mean", na_position="last").reset_index(drop=True)
