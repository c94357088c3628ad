"""params.json round trip."""

import numpy as np

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
