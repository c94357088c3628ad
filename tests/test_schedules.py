"""LR schedule builders."""

import numpy as np
import pytest

from cptcore.errors import InputError
from cptcore.schedules import (
    CORNER_KINDS,
    DECAY_SHAPES,
    ScheduleSpec,
    concatenate,
    corners,
    loss_potential,
    lr_at,
    pt_spec_for_potential,
    segment,
)


def test_wsd_decays_over_the_last_fraction_to_the_final_lr():
    lr = segment(
        ScheduleSpec("wsd", 1e-3, 1000, warmup_steps=100, decay_fraction=0.2, final_lr=1e-4)
    )
    assert lr[0] == pytest.approx(1e-5)
    assert lr[99] == pytest.approx(1e-3)
    assert np.all(lr[99:820] == 1e-3)
    assert lr[-1] == pytest.approx(1e-4)
    assert np.all(np.diff(lr[820:]) <= 0)


@pytest.mark.parametrize("shape", list(DECAY_SHAPES))
def test_every_decay_shape_ends_at_the_final_lr_and_is_monotone(shape):
    lr = segment(
        ScheduleSpec("wsd", 1e-3, 500, decay_fraction=0.5, decay_shape=shape, final_lr=1e-5)
    )
    assert lr[-1] == pytest.approx(1e-5, rel=1e-9)
    assert np.all(np.diff(lr) <= 1e-18)


def test_cosine_reaches_its_minimum_lr():
    lr = segment(ScheduleSpec("cosine", 3e-4, 2000, warmup_steps=100, final_lr=3e-5))
    assert lr[-1] == pytest.approx(3e-5)
    assert lr[1049] == pytest.approx((3e-4 + 3e-5) / 2, rel=1e-3)


def test_multistep_multiplies_by_gamma_at_milestones():
    lr = segment(ScheduleSpec("multistep", 1e-3, 100, milestones=(0.5, 0.75), gamma=0.1))
    assert set(np.round(lr, 12)) == {1e-3, 1e-4, 1e-5}


def test_cpt_rewarmup_starts_from_the_given_lr():
    lr = segment(ScheduleSpec("constant", 1e-3, 100, warmup_steps=10, warmup_start=1e-4))
    assert lr[0] == pytest.approx(1e-4 + 9e-4 / 10)
    assert lr[9] == pytest.approx(1e-3)


def test_concatenation_puts_step_zero_first_and_returns_the_transfer_step():
    lr, t = concatenate(ScheduleSpec("constant", 1e-3, 50), ScheduleSpec("constant", 2e-4, 30))
    assert len(lr) == 81 and t == 50 and lr[0] == 0 and lr[50] == 1e-3 and lr[51] == 2e-4


def test_loss_potential_is_final_over_peak():
    spec = pt_spec_for_potential(ScheduleSpec("constant", 1e-3, 1000), 0.3)
    lr = segment(spec)
    assert loss_potential(lr) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "kw",
    [
        dict(kind="nope"),
        dict(peak_lr=0),
        dict(steps=0),
        dict(warmup_steps=5000),
        dict(final_lr=1.0),
        dict(kind="wsd", decay_shape="exponential", final_lr=0.0),
    ],
)
def test_bad_schedule_specs_name_the_field(kw):
    with pytest.raises(InputError) as e:
        segment(ScheduleSpec(**kw))
    assert "(" in e.value.message or "must" in e.value.message


def test_format_lr_keeps_nearby_learning_rates_apart():
    """Slider labels and reports write LRs with format_lr; one digit made 1.5e-4 read '2e-4'."""
    from cptcore.schedules import format_lr
    from cptcore.whatif import lr_options

    assert [format_lr(v) for v in (1.5e-4, 2e-4, 1e-4, 1.234e-4, 0.0)] == [
        "1.5e-4",
        "2e-4",
        "1e-4",
        "1.23e-4",
        "0",
    ]
    options = lr_options(1e-8, 1.0)
    labels = [format_lr(v) for v in options]
    assert len(set(labels)) == len(options)
    assert [float(s) for s in labels] == options


@pytest.mark.parametrize("kind", CORNER_KINDS)
def test_the_lr_is_linear_between_the_corners_of_a_schedule(kind):
    spec = ScheduleSpec(kind, 1e-3, 1000, warmup_steps=40, warmup_start=1e-4, decay_fraction=0.3,
                        final_lr=1e-5)  # fmt: skip
    knots, c = corners(spec)
    lr = segment(spec)
    i = np.arange(1, c + 1)
    assert np.allclose(np.interp(i, knots, lr_at(spec, knots)), lr[:c], rtol=1e-12, atol=0)
    assert c == (40 if kind == "cosine" else 1000)  # the cosine kind: a half cosine after warm-up


def test_schedules_with_other_curved_pieces_have_no_corners():
    assert corners(ScheduleSpec("multistep", 1e-3, 1000)) is None
    assert corners(ScheduleSpec("wsd", 1e-3, 1000, decay_shape="sqrt")) is None
