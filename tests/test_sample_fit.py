"""The shipped sample fit (sample_data/cpt/params.json) is reproducible and as accurate as the README says."""

import json
import os

import numpy as np
import pytest

from cptcore.fit import evaluate, fit_target
from cptcore.params_io import load
from cptcore.runs import read_run

CPT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "sample_data", "cpt")


@pytest.fixture(scope="module")
def split():
    with open(os.path.join(CPT, "split.json")) as f:
        sp = json.load(f)
    return [read_run(os.path.join(CPT, n)) for n in sp["train"]], [
        read_run(os.path.join(CPT, n)) for n in sp["test"]
    ]


@pytest.mark.parametrize("target, bound", [("pt", 0.07), ("cpt", 0.06)])
def test_sample_fit_is_reproducible_and_predicts_held_out_cpt_phases(split, target, bound):
    train, test = split
    shipped = load(os.path.join(CPT, "params.json"))
    law = shipped.fits[target].params.law
    assert law == shipped.provenance["model_selection"]["law"]  # the default fit's choice
    res = fit_target(train, target, law, lam=shipped.lam, min_step=500)
    held = evaluate(res, test)
    # reproducible: the refit and the shipped parameters predict the same held-out losses (poorly
    # identified parameters such as E may wander along flat directions, predictions may not)
    shipped_held = evaluate(shipped.fits[target], test)
    for a, b in zip(held, shipped_held, strict=True):
        assert a.mae == pytest.approx(b.mae, abs=1e-3), a.name
    # README "Accuracy": held-out CPT-phase MAE 0.056 (general) / 0.047 (domain); bounds leave ~20% slack
    assert np.mean([m.cpt_mae for m in held]) < bound
