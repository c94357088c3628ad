"""The step cap (README, "Limits"; issue 12, item 4): a run's areas are computed at every step, so
memory follows its last step, not its file size. A 158-byte CSV whose last row is step 19,999,999
took 1.1 GB; runs and schedules are capped at MAX_STEPS and a run at the cap stays under 500 MB."""

import os
import subprocess
import sys

import pytest

from cptcore.errors import InputError
from cptcore.importers import parse_schedule
from cptcore.runs import MAX_STEPS
from cptcore.schedules import ScheduleSpec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_PARAMS = os.path.join(ROOT, "sample_data", "cpt", "params.json")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory from Linux /proc")
def test_a_run_at_the_step_cap_is_predicted_within_500_mb(tmp_path):
    """50 bytes per step at the peak plus the libraries."""
    run = tmp_path / "long.csv"
    run.write_text(
        "step,lr,phase,replay,loss_pt,loss_cpt\n0,0,pt,0,,\n100,0.001,pt,0,3.21,3.94\n"
        f"200,0.001,pt,0,3.05,3.77\n300,0.0005,cpt,0,3.12,3.31\n{MAX_STEPS},0.0001,cpt,0,3.15,3.12\n"
    )
    # VmHWM: this process's peak RSS (ru_maxrss would include the pytest parent's, kept over exec)
    code = (
        "import sys; from cptcore.__main__ import main; "
        f"c = main(['predict', '-p', {SAMPLE_PARAMS!r}, {str(run)!r}, '-o', {str(tmp_path / 'p.csv')!r}]); "
        "print(next(ln for ln in open('/proc/self/status') if ln.startswith('VmHWM'))); sys.exit(c)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert r.returncode == 0, r.stderr
    peak_mb = int(r.stdout.strip().splitlines()[-1].split()[1]) / 1024  # 'VmHWM:  429312 kB'
    assert peak_mb < 500, f"{peak_mb:.0f} MB"


def test_schedules_longer_than_the_cap_are_refused_before_building_arrays():
    with pytest.raises(InputError, match=r"steps must be from 1 to 5,000,000 \(got 10000000000\)"):
        parse_schedule("wsd:peak=1e-3,steps=1e10")
    with pytest.raises(InputError, match="steps must be from 1"):
        ScheduleSpec("wsd", 1e-3, MAX_STEPS + 1).validated()
    ScheduleSpec("wsd", 1e-3, MAX_STEPS).validated()
