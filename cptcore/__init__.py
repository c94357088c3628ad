"""cptcore: the continual pre-training scaling law of Wang, Tissue et al. (ICML 2025, arXiv 2505.07796).

Notebook use::

    import cptcore as cc
    runs = [cc.read_run("sample_data/cpt/....csv"), ...]
    out = cc.fit_model(runs)                       # law and lambda chosen by grouped CV
    print(out.selection.table())                   # every candidate's held-out error
    ps = cc.ParamSet.from_fits(out.fits, envelope=out.envelope)  # out.fits: {'pt', 'cpt'}
    sc = cc.Scenario(cc.ScheduleSpec("wsd", 1e-3, 3000, warmup_steps=50, decay_fraction=0.2),
                     cc.ScheduleSpec("cosine", 5e-4, 1000, warmup_steps=50), replay=0.25)
    curves = cc.simulate(ps, sc)                   # curves.curves['pt'].pred, ...
"""

from cptcore.areas import LAMBDA, Areas, compute_areas, run_areas
from cptcore.errors import InputError
from cptcore.fit import (
    FitResult,
    RunMetrics,
    default_law,
    evaluate,
    fit_runs,
    fit_target,
    prediction_band,
)
from cptcore.law import (
    LAWS,
    LawParams,
    critical_point,
    hidden_cpt_curve,
    hidden_pt_curve,
    predict,
    terms,
    turning_length,
)
from cptcore.params_io import ParamSet
from cptcore.params_io import load as load_params
from cptcore.params_io import save as save_params
from cptcore.runs import Run, read_run, run_to_frame, write_run
from cptcore.scenario import Scenario, ScenarioCurves, simulate
from cptcore.schedules import ScheduleSpec, concatenate, loss_potential, segment
from cptcore.select import fit_model, select_model

__all__ = [
    "LAMBDA",
    "Areas",
    "compute_areas",
    "run_areas",
    "InputError",
    "FitResult",
    "RunMetrics",
    "default_law",
    "evaluate",
    "fit_runs",
    "fit_target",
    "prediction_band",
    "LAWS",
    "LawParams",
    "critical_point",
    "hidden_cpt_curve",
    "hidden_pt_curve",
    "predict",
    "terms",
    "turning_length",
    "ParamSet",
    "load_params",
    "save_params",
    "Run",
    "read_run",
    "run_to_frame",
    "write_run",
    "Scenario",
    "ScenarioCurves",
    "simulate",
    "fit_model",
    "select_model",
    "ScheduleSpec",
    "concatenate",
    "loss_potential",
    "segment",
]
