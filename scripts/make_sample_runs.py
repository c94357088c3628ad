#!/usr/bin/env python3
"""Generate real continual-pre-training (CPT) sample runs of a tiny byte-level GPT on CPU.

Produces the canonical run CSVs (``step,lr,phase,replay,loss_pt,loss_cpt``) in ``sample_data/cpt/``.

* General corpus (D_pt): English man pages of section 1 (``/usr/share/man/man1/*.gz``), rendered to
  plain ASCII text with ``man -l -E ascii -P cat`` (MANWIDTH=80), overstrike removed, whitespace
  collapsed.  Pages are taken in the order of sha1(file name) until the corpus holds 4 MB.
* Domain corpus (D_cpt): Python standard-library source, ``/usr/lib/python3.11/*.py`` (Debian's
  libpython3.11-minimal / libpython3.11-stdlib), all top-level modules, sorted by file name.
* Validation: whole documents with sha1(name) % 20 == 0 are held out (~5 %); evaluation uses fixed
  batches (the same ``EVAL_SEQS`` windows of each validation set at every evaluation).

Model: byte-level pre-LN GPT (4 layers, d=128, 4 heads, context 128, tied embeddings, ~0.82M params).
Optimizer: AdamW(betas=(0.9, 0.95), weight_decay=0.1 on matrices), grad-norm clip 1.0.

Usage::

    pip install -r scripts/requirements-samples.txt
    nice -n 10 python scripts/make_sample_runs.py --out sample_data/cpt  > gen.log 2>&1
    python scripts/make_sample_runs.py --quick --out /tmp/quick      # smoke test, ~20 s

The PT phases are shared: CPT runs branch from saved PT states.  The PT-WSD run branches from the
constant PT run (model + optimizer state) at 80 % of PT and anneals linearly to 0.  At the start of
every CPT phase the AdamW moments are reset (a fresh optimizer), which is the usual practice when a
released checkpoint is continually pre-trained.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Config:
    seed: int = 1234
    n_layer: int = 4
    d_model: int = 128
    n_head: int = 4
    ctx: int = 128
    batch: int = 16
    pt_steps: int = 2500
    pt_warmup: int = 100
    pt_lr: float = 1e-3
    wsd_branch: int = 2000  # PT-WSD: branch off the constant PT here and anneal linearly to 0
    cpt_steps: int = 1000
    cpt_warmup: int = 50
    cpt_wsd_decay: int = 200  # last steps of a WSD CPT schedule: linear anneal to 0
    eval_every_pt: int = 50
    eval_every_cpt: int = 25
    eval_dense_cpt: int = 100  # in the first steps of CPT evaluate every `eval_dense_every` steps
    eval_dense_every: int = 10
    eval_seqs: int = 96
    general_bytes: int = 4_000_000
    domain_max_files: int = 10_000
    threads: int = 1
    jobs: int = 2


QUICK = dict(
    pt_steps=24,
    pt_warmup=4,
    wsd_branch=16,
    cpt_steps=12,
    cpt_warmup=3,
    cpt_wsd_decay=4,
    eval_every_pt=6,
    eval_every_cpt=4,
    eval_dense_cpt=4,
    eval_dense_every=2,
    eval_seqs=8,
    batch=4,
    general_bytes=200_000,
    domain_max_files=12,
    jobs=1,
)

LR_A = 1e-3  # CPT peak LR (= PT peak)
LR_B = 3e-4  # the other CPT peak LR


def lr_tag(lr: float) -> str:
    return {1e-3: "1e-3", 3e-4: "3e-4", 2e-3: "2e-3"}.get(lr, f"{lr:g}")


@dataclasses.dataclass
class RunSpec:
    name: str  # output file stem
    kind: str  # "pt" (shared PT) | "cpt" | "scratch"
    pt: str = "const"  # which PT state the CPT phase starts from: "const" | "wsd"
    sched: str = "const"  # CPT schedule: "const" | "wsd" | "cos"
    peak: float = LR_A
    replay: float = 0.0
    deps: tuple = ()


def grid() -> list[RunSpec]:
    runs: list[RunSpec] = [
        RunSpec("pt-const", "pt", pt="const"),
        RunSpec("pt-wsd", "pt", pt="wsd", deps=("pt-const",)),
        RunSpec(f"scratch-domain_cpt-wsd_lr{lr_tag(LR_A)}", "scratch", sched="wsd", peak=LR_A),
    ]
    cpt = [
        # (pt, sched, peak, replay)
        ("const", "const", LR_A, 0.0),
        ("const", "wsd", LR_A, 0.0),
        ("const", "cos", LR_A, 0.0),
        ("const", "const", LR_A, 0.5),
        ("const", "wsd", LR_A, 0.5),
        ("const", "wsd", LR_A, 0.25),
        ("const", "wsd", LR_A, 0.1),
        ("const", "wsd", LR_B, 0.0),
        ("const", "wsd", LR_A, 1.0),  # control: hidden D_pt curve (continue PT, CPT schedule)
        ("wsd", "const", LR_A, 0.0),
        ("wsd", "wsd", LR_A, 0.0),
        ("wsd", "const", LR_A, 0.5),
        ("wsd", "wsd", LR_A, 0.5),
        ("wsd", "cos", LR_A, 0.25),
        ("wsd", "wsd", LR_B, 0.0),
        ("wsd", "wsd", LR_A, 1.0),  # control: hidden D_pt curve
        # the 'extra' runs of split.json: other peak LRs and replay ratios (added later, same config)
        ("const", "wsd", 2e-3, 0.0),
        ("wsd", "wsd", 2e-3, 0.0),
        ("const", "wsd", LR_A, 0.05),
        ("const", "wsd", LR_A, 0.75),
        ("const", "wsd", LR_B, 0.25),
    ]
    for pt, sched, peak, replay in cpt:
        name = f"pt{pt}_cpt-{sched}_lr{lr_tag(peak)}_replay{replay:g}"
        runs.append(
            RunSpec(name, "cpt", pt=pt, sched=sched, peak=peak, replay=replay, deps=(f"pt-{pt}",))
        )
    return runs


# --------------------------------------------------------------------------------------------
# Schedules: lr[k] = LR of the update producing step k (lr[0] = 0)
# --------------------------------------------------------------------------------------------


def pt_schedule(cfg: Config, kind: str) -> np.ndarray:
    k = np.arange(cfg.pt_steps + 1, dtype=np.float64)
    lr = cfg.pt_lr * np.minimum(1.0, k / cfg.pt_warmup)
    if kind == "wsd":
        b, p = cfg.wsd_branch, cfg.pt_steps
        m = k > b
        lr[m] = cfg.pt_lr * (p - k[m]) / (p - b)
    lr[0] = 0.0
    return lr


def cpt_schedule(cfg: Config, sched: str, peak: float) -> np.ndarray:
    """LR for CPT-local steps j = 0..C (lr[0] is unused: it is the transfer point)."""
    c, w = cfg.cpt_steps, cfg.cpt_warmup
    j = np.arange(c + 1, dtype=np.float64)
    lr = peak * np.minimum(1.0, j / w)
    if sched == "wsd":
        s = c - cfg.cpt_wsd_decay
        m = j > s
        lr[m] = peak * (c - j[m]) / (c - s)
    elif sched == "cos":
        m = j > w
        lr[m] = peak * 0.5 * (1.0 + np.cos(np.pi * (j[m] - w) / (c - w)))
    elif sched != "const":
        raise ValueError(sched)
    lr[0] = 0.0
    return lr


# --------------------------------------------------------------------------------------------
# Corpora
# --------------------------------------------------------------------------------------------

MAN_DIR = Path("/usr/share/man/man1")
PY_DIR = Path("/usr/lib/python3.11")


def _sha(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def _clean_man(text: str) -> str:
    text = re.sub(r".\x08", "", text)  # overstrike (bold/underline)
    lines = [re.sub(r"[ \t]+", " ", ln.strip()) for ln in text.splitlines()]
    if len(lines) > 2:
        lines = lines[1:-1]  # page header / footer
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text + "\n\n"


def _render_man(path: Path) -> str:
    env = dict(os.environ, MANWIDTH="80", LANG="C", LC_ALL="C", MAN_KEEP_FORMATTING="")
    r = subprocess.run(
        ["man", "-l", "-E", "ascii", "-P", "cat", str(path)],
        env=env,
        capture_output=True,
        timeout=60,
    )
    return r.stdout.decode("ascii", "replace")


def _docstring_corpus(limit: int) -> list[tuple[str, str]]:
    """Fallback general corpus when man/groff are missing: stdlib docstrings (English prose)."""
    import ast

    docs = []
    for p in sorted(_py_dir().glob("*.py")):
        try:
            tree = ast.parse(p.read_text("utf-8", "replace"))
        except SyntaxError:
            continue
        parts = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                d = ast.get_docstring(node)
                if d:
                    parts.append(d)
        if parts:
            docs.append((p.name, "\n\n".join(parts) + "\n\n"))
        if sum(len(t) for _, t in docs) > limit:
            break
    return docs


def _py_dir() -> Path:
    if PY_DIR.is_dir():
        return PY_DIR
    import sysconfig

    return Path(sysconfig.get_paths()["stdlib"])


def build_corpora(cfg: Config, work: Path) -> dict:
    """Return {"general": (train, val), "domain": (train, val)} as uint8 arrays + manifest."""
    cache = work / f"corpora_{cfg.general_bytes}_{cfg.domain_max_files}.npz"
    man_ok = MAN_DIR.is_dir() and shutil.which("man") is not None
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        manifest = json.loads((work / (cache.stem + ".json")).read_text())
        return {
            "general": (z["gtr"], z["gva"]),
            "domain": (z["dtr"], z["dva"]),
            "manifest": manifest,
        }

    # general: man pages
    gen_docs: list[tuple[str, str]] = []
    if man_ok:
        files = sorted(MAN_DIR.glob("*.gz"), key=lambda p: _sha(p.name))
        total = 0
        for p in files:
            t = _render_man(p)
            if len(t) < 1000:
                continue
            t = _clean_man(t)
            gen_docs.append((p.name, t))
            total += len(t)
            if total >= cfg.general_bytes:
                break
        gen_source = f"man -l -E ascii -P cat {MAN_DIR}/*.gz (sha1(name) order)"
    else:
        gen_docs = _docstring_corpus(cfg.general_bytes)
        gen_source = "FALLBACK: docstrings of stdlib modules"
    # domain: python stdlib source
    pyd = _py_dir()
    dom_docs = [
        (p.name, p.read_text("utf-8", "replace"))
        for p in sorted(pyd.glob("*.py"))[: cfg.domain_max_files]
    ]

    def split(docs):
        tr, va = [], []
        for name, t in docs:
            (va if int(_sha(name), 16) % 20 == 0 else tr).append(t)
        if not va:  # tiny (quick) corpora: hold out the last document
            va.append(tr.pop())
        enc = lambda xs: np.frombuffer("".join(xs).encode("utf-8", "replace"), dtype=np.uint8)  # noqa: E731
        return enc(tr), enc(va)

    gtr, gva = split(gen_docs)
    dtr, dva = split(dom_docs)
    manifest = {
        "general_source": gen_source,
        "general_files": [n for n, _ in gen_docs],
        "general_val_files": [n for n, _ in gen_docs if int(_sha(n), 16) % 20 == 0],
        "domain_source": f"{pyd}/*.py sorted by name",
        "domain_files": [n for n, _ in dom_docs],
        "domain_val_files": [n for n, _ in dom_docs if int(_sha(n), 16) % 20 == 0],
        "bytes": {
            "general_train": int(gtr.size),
            "general_val": int(gva.size),
            "domain_train": int(dtr.size),
            "domain_val": int(dva.size),
        },
        "sha256": {
            k: hashlib.sha256(v.tobytes()).hexdigest()
            for k, v in dict(
                general_train=gtr, general_val=gva, domain_train=dtr, domain_val=dva
            ).items()
        },
    }
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, gtr=gtr, gva=gva, dtr=dtr, dva=dva)
    (work / (cache.stem + ".json")).write_text(json.dumps(manifest, indent=1))
    return {"general": (gtr, gva), "domain": (dtr, dva), "manifest": manifest}


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def make_model(cfg: Config):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d = cfg.d_model
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d, bias=False)
            self.proj = nn.Linear(d, d, bias=False)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d, bias=False)
            self.fc2 = nn.Linear(4 * d, d, bias=False)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            h = cfg.n_head
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(256, cfg.d_model)
            self.pos = nn.Embedding(cfg.ctx, cfg.d_model)
            self.blocks = nn.ModuleList([Block() for _ in range(cfg.n_layer)])
            self.lnf = nn.LayerNorm(cfg.d_model)
            self.apply(self._init)
            for n, p in self.named_parameters():
                if n.endswith("proj.weight") or n.endswith("fc2.weight"):
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

        @staticmethod
        def _init(m):
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)

        def forward(self, idx, targets):
            t = idx.shape[1]
            x = self.tok(idx) + self.pos(torch.arange(t))
            for blk in self.blocks:
                x = blk(x)
            logits = self.lnf(x) @ self.tok.weight.T
            return F.cross_entropy(logits.reshape(-1, 256), targets.reshape(-1))

    return GPT()


def make_opt(cfg: Config, model):
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    nodecay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
        lr=0.0,
        betas=(0.9, 0.95),
        eps=1e-8,
    )


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


class Data:
    def __init__(self, cfg: Config, corp: dict):
        import torch

        self.cfg = cfg
        self.tr = {"general": corp["general"][0], "domain": corp["domain"][0]}
        self.eval = {}
        for key in ("general", "domain"):
            va = corp[key][1]
            n = cfg.eval_seqs
            span = cfg.ctx + 1
            starts = np.linspace(0, va.size - span - 1, n).astype(np.int64)
            x = np.stack([va[s : s + span] for s in starts]).astype(np.int64)
            self.eval[key] = torch.from_numpy(x)

    def batch(self, stream: int, step: int, n_gen: int, n_dom: int):
        """Deterministic batch for (stream, step): n_dom domain + n_gen general windows."""
        import torch

        rng_d = np.random.default_rng([self.cfg.seed, stream, step, 1])
        rng_g = np.random.default_rng([self.cfg.seed, stream, step, 0])
        span = self.cfg.ctx + 1
        rows = []
        for key, rng, n in (("domain", rng_d, n_dom), ("general", rng_g, n_gen)):
            a = self.tr[key]
            for s in rng.integers(0, a.size - span, size=n):
                rows.append(a[s : s + span])
        x = torch.from_numpy(np.stack(rows).astype(np.int64))
        return x[:, :-1], x[:, 1:]


# streams: PT general data, CPT data, from-scratch domain data
STREAM_PT, STREAM_CPT, STREAM_SCRATCH = 11, 22, 33


def n_general(replay: float, batch: int, j: int) -> int:
    """General (replay) windows in CPT batch j (1-based): error diffusion => exact long-run ratio."""
    return int(math.floor(replay * batch * j + 1e-9) - math.floor(replay * batch * (j - 1) + 1e-9))


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def evaluate(model, data: Data) -> tuple[float, float]:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for key in ("general", "domain"):
            x = data.eval[key]
            tot = 0.0
            for i in range(0, x.shape[0], 32):
                xb = x[i : i + 32]
                tot += model(xb[:, :-1], xb[:, 1:]).item() * xb.shape[0]
            out.append(tot / x.shape[0])
    model.train()
    return out[0], out[1]


def train(
    model,
    opt,
    data: Data,
    lrs: np.ndarray,
    step0: int,
    batch_fn,
    eval_steps: set,
    label: str,
    log_every: int = 100,
    ckpt_at: dict | None = None,
):
    """Train steps step0+1 .. step0+len(lrs)-1 with lrs[j] for step step0+j.

    Returns {global_step: (loss_pt, loss_cpt)} for evaluated steps (incl. step0 if in eval_steps).
    """
    import torch

    res = {}
    n = len(lrs) - 1
    if step0 in eval_steps:
        res[step0] = evaluate(model, data)
    t0 = time.time()
    for j in range(1, n + 1):
        for g in opt.param_groups:
            g["lr"] = float(lrs[j])
        x, y = batch_fn(j)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        s = step0 + j
        if s in eval_steps:
            res[s] = evaluate(model, data)
        if ckpt_at and s in ckpt_at:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, ckpt_at[s])
        if j % log_every == 0 or j == n:
            el = time.time() - t0
            ev = res.get(s) or (float("nan"), float("nan"))
            print(
                f"  [{label}] step {j}/{n}  train {loss.item():.4f}  "
                f"val_pt {ev[0]:.4f} val_cpt {ev[1]:.4f}  {el / j:.3f} s/step  "
                f"ETA {el / j * (n - j):.0f} s",
                flush=True,
            )
    return res


def eval_steps_pt(cfg: Config, n: int) -> set:
    return set(range(0, n + 1, cfg.eval_every_pt)) | {n}


def eval_steps_cpt(cfg: Config, p: int) -> set:
    c = cfg.cpt_steps
    s = {p + j for j in range(0, c + 1, cfg.eval_every_cpt)}
    s |= {p + j for j in range(0, cfg.eval_dense_cpt + 1, cfg.eval_dense_every)}
    s |= {p + c}
    return s


def write_csv(path: Path, lrs: np.ndarray, phases: list, replay: float, ev: dict):
    lines = ["step,lr,phase,replay,loss_pt,loss_cpt"]
    for k in range(len(lrs)):
        lp, lc = ("", "")
        if k in ev:
            lp, lc = (f"{ev[k][0]:.5f}", f"{ev[k][1]:.5f}")
        lines.append(f"{k},{lrs[k]:.6g},{phases[k]},{replay:g},{lp},{lc}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def run_job(cfg_d: dict, spec_d: dict, out: str, work: str) -> dict:
    import torch

    cfg = Config(**cfg_d)
    spec = RunSpec(**spec_d)
    torch.set_num_threads(cfg.threads)
    out_p, work_p = Path(out), Path(work)
    corp = build_corpora(cfg, work_p)
    data = Data(cfg, corp)
    B, P = cfg.batch, cfg.pt_steps
    t0 = time.time()
    torch.manual_seed(cfg.seed)
    model = make_model(cfg)

    if spec.kind == "pt" and spec.pt == "const":
        opt = make_opt(cfg, model)
        lrs = pt_schedule(cfg, "const")
        ev = train(
            model,
            opt,
            data,
            lrs,
            0,
            lambda j: data.batch(STREAM_PT, j, B, 0),
            eval_steps_pt(cfg, P),
            spec.name,
            ckpt_at={cfg.wsd_branch: work_p / "pt-const_branch.pt", P: work_p / "pt-const.pt"},
        )
        (work_p / "pt-const.json").write_text(json.dumps({str(k): v for k, v in ev.items()}))
        write_csv(out_p / f"{spec.name}.csv", lrs, ["pt"] * (P + 1), 0.0, ev)
    elif spec.kind == "pt" and spec.pt == "wsd":
        st = torch.load(work_p / "pt-const_branch.pt")
        model.load_state_dict(st["model"])
        opt = make_opt(cfg, model)
        opt.load_state_dict(st["opt"])  # the anneal continues the same optimizer
        lrs = pt_schedule(cfg, "wsd")
        b = cfg.wsd_branch
        ev_c = {
            int(k): tuple(v)
            for k, v in json.loads((work_p / "pt-const.json").read_text()).items()
            if int(k) <= b
        }
        ev = train(
            model,
            opt,
            data,
            lrs[b:],
            b,
            lambda j: data.batch(STREAM_PT, b + j, B, 0),
            {s for s in eval_steps_pt(cfg, P) if s > b},
            spec.name,
            ckpt_at={P: work_p / "pt-wsd.pt"},
        )
        ev = {**ev_c, **ev}
        (work_p / "pt-wsd.json").write_text(json.dumps({str(k): v for k, v in ev.items()}))
        write_csv(out_p / f"{spec.name}.csv", lrs, ["pt"] * (P + 1), 0.0, ev)
    elif spec.kind == "scratch":
        opt = make_opt(cfg, model)
        lrs = cpt_schedule(cfg, spec.sched, spec.peak)
        ev = train(
            model,
            opt,
            data,
            lrs,
            0,
            lambda j: data.batch(STREAM_SCRATCH, j, 0, B),
            eval_steps_cpt(cfg, 0),
            spec.name,
        )
        write_csv(out_p / f"{spec.name}.csv", lrs, ["pt"] * len(lrs), 0.0, ev)
    else:  # cpt
        st = torch.load(work_p / f"pt-{spec.pt}.pt")
        model.load_state_dict(st["model"])
        opt = make_opt(cfg, model)  # AdamW moments reset at CPT start
        pt_lrs = pt_schedule(cfg, spec.pt)
        pt_ev = {
            int(k): tuple(v)
            for k, v in json.loads((work_p / f"pt-{spec.pt}.json").read_text()).items()
        }
        lrs = cpt_schedule(cfg, spec.sched, spec.peak)
        r = spec.replay
        ev = train(
            model,
            opt,
            data,
            lrs,
            P,
            lambda j: data.batch(STREAM_CPT, j, n_general(r, B, j), B - n_general(r, B, j)),
            eval_steps_cpt(cfg, P) - {P},
            spec.name,
        )
        ev = {**pt_ev, **ev}
        all_lrs = np.concatenate([pt_lrs, lrs[1:]])
        phases = ["pt"] * (P + 1) + ["cpt"] * cfg.cpt_steps
        write_csv(out_p / f"{spec.name}.csv", all_lrs, phases, r, ev)
    el = time.time() - t0
    print(f"DONE {spec.name} in {el:.1f} s", flush=True)
    return {"name": spec.name, "seconds": el}


def job_steps(cfg: Config, spec: RunSpec) -> int:
    if spec.kind == "pt":
        return cfg.pt_steps if spec.pt == "const" else cfg.pt_steps - cfg.wsd_branch
    return cfg.cpt_steps


def benchmark(cfg: Config, steps: int = 30):
    import torch

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(0)
    model = make_model(cfg)
    opt = make_opt(cfg, model)
    nparam = sum(p.numel() for p in model.parameters())
    x = torch.randint(0, 256, (cfg.batch, cfg.ctx + 1))
    for i in range(steps + 3):
        if i == 3:
            t0 = time.time()
        loss = model(x[:, :-1], x[:, 1:])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    st = (time.time() - t0) / steps
    ev = torch.randint(0, 256, (cfg.eval_seqs, cfg.ctx + 1))
    t0 = time.time()
    with torch.no_grad():
        for _ in range(3):
            for i in range(0, ev.shape[0], 32):
                model(ev[i : i + 32, :-1], ev[i : i + 32, 1:])
    et = (time.time() - t0) / 3 * 2
    print(
        f"params {nparam}  threads {cfg.threads}  {st * 1000:.1f} ms/train step  "
        f"{et * 1000:.1f} ms/eval (both sets)"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="sample_data/cpt")
    ap.add_argument(
        "--work",
        default=None,
        help="cache/checkpoint dir (default: <out>/../_work_cpt "
        "for --quick, /tmp/cpt_samples_work otherwise)",
    )
    ap.add_argument("--quick", action="store_true", help="a few steps per run (smoke test)")
    ap.add_argument("--jobs", type=int, default=None, help="parallel worker processes")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    ap.add_argument("--only", default=None, help="comma-separated run names (deps must exist)")
    ap.add_argument("--benchmark", action="store_true", help="time a train step and exit")
    a = ap.parse_args(argv)
    cfg = Config(**(QUICK if a.quick else {}))
    if a.jobs:
        cfg.jobs = a.jobs
    if a.threads:
        cfg.threads = a.threads
    if a.benchmark:
        benchmark(cfg)
        return 0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(a.work) if a.work else (out / "_work" if a.quick else Path("/tmp/cpt_samples_work"))
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    corp = build_corpora(cfg, work)
    print(
        f"corpora: {json.dumps(corp['manifest']['bytes'])}  general from "
        f"{len(corp['manifest']['general_files'])} man pages ({corp['manifest']['general_source']}), "
        f"domain from {len(corp['manifest']['domain_files'])} files  "
        f"[{time.time() - t_start:.1f} s]",
        flush=True,
    )
    (out / "corpora_manifest.json").write_text(json.dumps(corp["manifest"], indent=1) + "\n")
    specs = grid()
    if a.only:
        keep = set(a.only.split(","))
        specs = [s for s in specs if s.name in keep]
        for s in specs:
            s.deps = tuple(d for d in s.deps if d in keep)
    total = sum(job_steps(cfg, s) for s in specs)
    done_steps, done = 0, set()
    pending = {s.name: s for s in specs}
    running: dict = {}
    timings = {}
    cfg_d = dataclasses.asdict(cfg)
    with cf.ProcessPoolExecutor(max_workers=cfg.jobs) as ex:
        while pending or running:
            for name, s in list(pending.items()):
                if len(running) >= cfg.jobs:
                    break
                if all(d in done for d in s.deps):
                    running[
                        ex.submit(run_job, cfg_d, dataclasses.asdict(s), str(out), str(work))
                    ] = s
                    del pending[name]
            fin, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
            for f in fin:
                s = running.pop(f)
                r = f.result()
                done.add(s.name)
                timings[s.name] = round(r["seconds"], 1)
                done_steps += job_steps(cfg, s)
                el = time.time() - t_start
                eta = el / done_steps * (total - done_steps)
                print(
                    f"== finished {s.name}: {len(done)}/{len(specs)} runs, "
                    f"{done_steps}/{total} steps, elapsed {el / 60:.1f} min, "
                    f"ETA {eta / 60:.1f} min",
                    flush=True,
                )
    wall = time.time() - t_start
    print(f"ALL DONE in {wall:.0f} s ({wall / 60:.1f} min)", flush=True)
    (out / "generation_info.json").write_text(
        json.dumps(
            {
                "config": cfg_d,
                "wall_seconds": round(wall, 1),
                "run_seconds": timings,
                "torch_threads_per_job": cfg.threads,
                "jobs": cfg.jobs,
            },
            indent=1,
        )
        + "\n"
    )
    if a.quick:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
