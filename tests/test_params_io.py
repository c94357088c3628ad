"""params.json round trip."""

import json
import os

import numpy as np
import pytest

from cptcore.errors import InputError
from cptcore.fit import fit_target
from cptcore.params_io import ParamSet, dumps, loads
from tests.synthetic import PT_CONST, PT_WSD, cpt_spec, make_run


def test_params_json_round_trips_parameters_metrics_and_uncertainty():
    runs = [
        make_run("a", PT_CONST, cpt_spec("wsd"), seed=1),
        make_run("b", PT_WSD, cpt_spec("constant"), seed=2),
    ]
    ps = ParamSet.from_fits(
        {t: fit_target(runs, t) for t in ("pt", "cpt")}, provenance={"runs": ["a", "b"]}
    )
    back = loads(dumps(ps))
    for t in ("pt", "cpt"):
        assert back.params(t) == ps.params(t)
        np.testing.assert_allclose(back.fits[t].cov, ps.fits[t].cov)
        assert back.fits[t].free_names == ps.fits[t].free_names
        assert [m.mae for m in back.fits[t].metrics] == [m.mae for m in ps.fits[t].metrics]
    assert back.provenance == {"runs": ["a", "b"]}


def test_a_huge_integer_min_step_is_one_line_not_an_overflow():
    """JSON integers have no size limit: 10**400 as the first fitted step is refused in words."""
    with open(
        os.path.join(os.path.dirname(__file__), "..", "sample_data", "cpt", "params.json")
    ) as f:
        d = json.load(f)
    d["cpt"]["fit_from"]["min_step"] = 10**400
    with pytest.raises(InputError, match="column 'cpt.fit_from.min_step': must be a whole number"):
        loads(json.dumps(d), "p.json")
