"""Write the small log fixtures in this folder (run from the repository root:
``python tests/importers/make_fixtures.py``).

Every fixture is one synthetic run family in the layout a real tool writes: a 3000-step WSD
pre-training (peak 1e-3, 100 warm-up steps, last 20% decayed to 1e-4) followed by a 1000-step CPT
(peak 5e-4, 50 warm-up steps, cosine to 0), losses from ``tests/synthetic.TRUE`` plus a little noise.
``tests/test_importers.py`` checks that each importer recovers the same steps, LR and losses.

The TensorBoard event file is written with TensorBoard's own writer when ``tensorboard`` is importable
(``pip install tensorboard`` in a scratch environment; it is not a dependency of this project), so that
our pure-Python reader is checked against the real format; without it that file is left as it is.
"""

from __future__ import annotations

import csv
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from cptcore.areas import compute_areas  # noqa: E402
from cptcore.law import predict  # noqa: E402
from cptcore.schedules import ScheduleSpec, concatenate  # noqa: E402
from tests.synthetic import TRUE  # noqa: E402

PT = ScheduleSpec("wsd", 1e-3, 3000, warmup_steps=100, decay_fraction=0.2, final_lr=1e-4)
CPT = ScheduleSpec("cosine", 5e-4, 1000, warmup_steps=50, warmup_start=1e-4)
PT_SCHEDULE = "wsd:peak=1e-3,steps=3000,warmup=100,decay=0.2,final=1e-4"
CPT_SCHEDULE = "cosine:peak=5e-4,steps=1000,warmup=50,warmup_start=1e-4"
T = PT.steps


def truth(seed: int = 0, replay: float = 0.0):
    """LR by step (0..4000) and noisy general/domain losses at every step."""
    lr, t = concatenate(PT, CPT)
    a = compute_areas(lr, t)
    rng = np.random.default_rng(seed)
    loss = {k: predict(p, a, replay, k) + rng.normal(0, 0.003, len(lr)) for k, p in TRUE.items()}
    return lr, loss["pt"], loss["cpt"]


def r(x: float, digits: int = 6) -> str:
    return f"{x:.{digits}g}"


def wandb_panel() -> None:
    """Two CPT runs (steps from CPT start) in one panel export, sampled every 50 steps, with the
    __MIN/__MAX envelope columns W&B adds."""
    runs = {"cpt-math-r0": truth(1), "cpt-math-r25": truth(2, replay=0.25)}
    metrics = ["train/lr", "eval/loss_general", "eval/loss_math"]
    header = ["Step"]
    for run in runs:
        for m in metrics:
            header += [f"{run} - {m}", f"{run} - {m}__MIN", f"{run} - {m}__MAX"]
    with open(os.path.join(HERE, "wandb_panel_export.csv"), "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(header)
        for s in range(0, CPT.steps + 1, 50):
            row = [s]
            for lr, lpt, lcpt in runs.values():
                for v in (lr[T + s], lpt[T + s], lcpt[T + s]):
                    row += [r(v), r(v), r(v)]
            w.writerow(row)


def wandb_no_lr() -> None:
    """A PT+CPT run whose LR was not logged (losses only, every 100 steps): needs --schedule."""
    _, lpt, lcpt = truth(3)
    with open(os.path.join(HERE, "wandb_losses_only.csv"), "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(["Step", "pt-then-cpt - val/general_loss", "pt-then-cpt - val/domain_loss"])
        for s in range(100, PT.steps + CPT.steps + 1, 100):
            w.writerow([s, r(lpt[s]), r(lcpt[s])])


def tb_csv() -> None:
    """TensorBoard 'Download CSV' of three tags of one PT+CPT run (every 20 steps)."""
    lr, lpt, lcpt = truth(4)
    for tag, values in (("learning_rate", lr), ("eval_loss_web", lpt), ("eval_loss_math", lcpt)):
        path = os.path.join(HERE, f"run-pt_wsd_then_cpt-tag-{tag}.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Wall time", "Step", "Value"])
            for s in range(20, PT.steps + CPT.steps + 1, 20):
                w.writerow([f"{1732531200.0 + 0.61 * s:.3f}", s, r(values[s], 8)])


def tb_events() -> None:
    """An event file as PyTorch's SummaryWriter writes it (simple_value), plus one TF2-style tensor
    scalar tag, for a CPT-only run: LR every 10 steps, eval losses every 50."""
    try:
        sys.path.insert(0, "/tmp/tbenv")
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.compat.proto.tensor_pb2 import TensorProto
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        print("tensorboard not importable: events file left as it is")
        return
    lr, lpt, lcpt = truth(5)
    out = os.path.join(HERE, "tb_run")
    for f in os.listdir(out) if os.path.isdir(out) else []:
        os.remove(os.path.join(out, f))
    w = EventFileWriter(out, filename_suffix=".gpu-node-07")
    for s in range(0, CPT.steps + 1, 10):
        vals = [Summary.Value(tag="train/lr", simple_value=float(lr[T + s]))]
        vals.append(Summary.Value(tag="train/loss", simple_value=float(lcpt[T + s] + 0.05)))
        if s % 50 == 0:
            vals.append(Summary.Value(tag="eval/loss_general", simple_value=float(lpt[T + s])))
            t = TensorProto(dtype=1, float_val=[float(lcpt[T + s])])  # TF2 tf.summary.scalar
            vals.append(Summary.Value(tag="eval/loss_domain", tensor=t))
        w.add_event(Event(wall_time=1732531200.0 + s, step=s, summary=Summary(value=vals)))
    w.close()
    (written,) = os.listdir(
        out
    )  # the writer names it after the clock and host: give it a fixed name
    os.rename(
        os.path.join(out, written),
        os.path.join(out, "events.out.tfevents.1732531200.gpu-node-07.41234.0"),
    )


def hf_states() -> None:
    """trainer_state.json of the PT run and of the CPT run (its global_step restarts at 0):
    train rows every 10 steps, eval rows every 100 with eval_web_loss / eval_math_loss."""
    lr, lpt, lcpt = truth(6)

    def state(start: int, steps: int, name: str) -> dict:
        hist = []
        for s in range(10, steps + 1, 10):
            g = start + s
            hist.append(
                {
                    "epoch": round(s / steps, 4),
                    "grad_norm": round(0.3 + 0.2 / (1 + s / 300), 4),
                    "learning_rate": float(r(lr[g], 8)),
                    "loss": round(float(lcpt[g] if start else lpt[g]) + 0.04, 4),
                    "step": s,
                }
            )
            if s % 100 == 0:
                hist.append(
                    {
                        "epoch": round(s / steps, 4),
                        "eval_web_loss": round(float(lpt[g]), 5),
                        "eval_web_runtime": 12.5,
                        "eval_web_samples_per_second": 81.9,
                        "eval_math_loss": round(float(lcpt[g]), 5),
                        "eval_math_runtime": 11.8,
                        "step": s,
                    }
                )
        return {
            "best_metric": None,
            "epoch": 1.0,
            "eval_steps": 100,
            "global_step": steps,
            "is_hyper_param_search": False,
            "log_history": hist,
            "logging_steps": 10,
            "max_steps": steps,
            "num_train_epochs": 1,
            "save_steps": 500,
            "total_flos": 1.234e17,
            "train_batch_size": 32,
            "trial_name": None,
            "run_name": name,
        }

    for fname, st in (
        ("pt_trainer_state.json", state(0, PT.steps, "pt-wsd-1e-3")),
        ("cpt_trainer_state.json", state(T, CPT.steps, "cpt-math-cosine")),
    ):
        with open(os.path.join(HERE, fname), "w") as f:
            json.dump(st, f, indent=2)


def generic() -> None:
    """A Megatron-style TSV (iteration / learning rate / validation losses, PT+CPT with a phase and
    replay column) and NeMo-style JSON lines (CPT only)."""
    lr, lpt, lcpt = truth(7, replay=0.1)
    with open(os.path.join(HERE, "megatron_metrics.tsv"), "w") as f:
        f.write(
            "iteration\tlearning rate\tstage\tpt share\tlm loss validation (web)\tlm loss validation (math)\n"
        )
        for s in range(0, PT.steps + CPT.steps + 1, 25):
            ph = "pt" if s <= T else "cpt"
            ev = s % 100 == 0 and s > 0
            f.write(
                f"{s}\t{r(lr[s], 8)}\t{ph}\t0.1\t{r(lpt[s]) if ev else ''}\t{r(lcpt[s]) if ev else ''}\n"
            )
    lr, lpt, lcpt = truth(8)
    with open(os.path.join(HERE, "nemo_metrics.jsonl"), "w") as f:
        for s in range(0, CPT.steps + 1, 10):
            row = {
                "step": s,
                "lr": float(r(lr[T + s], 8)),
                "reduced_train_loss": round(float(lcpt[T + s]) + 0.05, 4),
            }
            if s % 50 == 0:
                row["val_loss"] = round(float(lcpt[T + s]), 5)
                row["val_loss_general"] = round(float(lpt[T + s]), 5)
            f.write(json.dumps(row) + "\n")


def megatron_stdout() -> None:
    """A Megatron-LM CPT job's stdout (steps from CPT start): a training line every 10 iterations and
    validation on two sets every 100, as forks that evaluate several sets print them."""
    lr, lpt, lcpt = truth(9)
    lines = [
        "using world size: 8, data-parallel size: 8, tensor-model-parallel size: 1",
        "> building GPT2BPETokenizer tokenizer ...",
        "[after dataloaders are built] datetime: 2026-11-20 09:58:41",
        "training ...",
    ]
    for s in range(10, CPT.steps + 1, 10):
        g = T + s
        lines.append(
            f" [2026-11-20 10:{s // 60 % 60:02d}:{s % 60:02d}] iteration {s:>8d}/{CPT.steps:>8d} |"
            f" consumed samples: {s * 256:>10d} | elapsed time per iteration (ms): 812.4 |"
            f" learning rate: {lr[g]:.6E} | global batch size:   256 | lm loss: {lcpt[g] + 0.04:.6E} |"
            " loss scale: 1.0 | grad norm: 0.312 | number of skipped iterations:   0 |"
            " number of nan iterations:   0 |"
        )
        if s % 100 == 0:
            for panel, v in (("web", lpt[g]), ("math", lcpt[g])):
                lines.append("-" * 100)
                lines.append(
                    f"0:  validation loss at iteration {s} [{panel}] | lm loss value: {v:.6E} |"
                    f" lm loss PPL: {np.exp(v):.6E} | "
                )
                lines.append("-" * 100)
    with open(os.path.join(HERE, "megatron_stdout.log"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    wandb_panel()
    wandb_no_lr()
    tb_csv()
    tb_events()
    hf_states()
    generic()
    megatron_stdout()
    print("fixtures written to", HERE)
