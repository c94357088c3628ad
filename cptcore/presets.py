"""Published parameter sets (cpt-law notes §5: paper Fig. 3, 106M model, FineWeb -> Knowledge-Pile).

Signs restored as in the notes (B > 0 on the general set, B < 0 on the domain set). These are the
paper's numbers, fitted to its own runs at peak LR 2e-4 and 4M-token batches: use them to teach and
to compare, not to plan a run on other data.
"""

from __future__ import annotations

from cptcore.law import LawParams

PAPER_FIG3 = {
    "pt": LawParams(
        L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28.0, beta=0.189
    ),
    "cpt": LawParams(
        L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662.0, beta=0.146
    ),
}
# The paper's setting for those numbers (notes §5 worked example): WSD pre-training at 2e-4,
# 36K steps constant + 4K linear anneal to 0, then CPT re-warmed to 2e-4 and cosine to 0 over 10K steps.
PAPER_SETTING = {"peak_lr": 2e-4, "pt_steps": 40_000, "pt_decay_fraction": 0.1, "cpt_steps": 10_000}
