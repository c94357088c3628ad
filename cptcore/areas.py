"""Forward area S1 and annealing area S2 (paper Eq. 1) and their split at the CPT start, in O(n).

``S1(t) = sum_{i=1..t} eta_i``.
``S2(t) = sum_{i=1..t} m_i`` with momentum ``m_i = lambda*m_{i-1} + (eta_{i-1} - eta_i)``, the exact
recursive form of the paper's double sum (cpt-law notes §1.2). ``compute_areas`` gets S1 and S2 from
small matrix products over rows of 16 steps, each row continuing from the previous row's end
(``_blocked_s1_s2``): a few passes over memory instead of cumulative sums (a cumulative sum is ~15x
slower per element than a vectorised pass). The momentum alone is a first-order IIR filter,
``decay_sum``, in blocks with numpy - no Python loop over steps (it replaced
``scipy.signal.lfilter``: importing scipy.signal cost every CLI call ~0.5-1 s).

Choices (README, "How S1 and S2 are computed"):
- LRs enter raw (no division by the peak, no (1-lambda) factor), as in the paper's fitted numbers.
- The PT warm-up ramp (and step 0) count as the PT peak LR for S2 only; S1 uses the real LR. This
  reproduces the paper's worked example (S2pt = 0.151) and avoids a spurious negative area of about
  -peak/(1-lambda) from the ramp.
- An LR increase in CPT (re-warm-up) is negative annealing: S2 falls and the predicted loss rises.
- S2 is computed on the concatenated PT+CPT schedule and then split, so the momentum carries across
  the transfer point: S2cpt(t) = S2(t) - S2(transfer).
- A CPT-only run with unknown PT history (paper §6): the PT model is assumed annealed to LR 0, so
  the momentum starts from eta_0 = 0 and the re-warm-up counts as negative annealing; S1pt and S2pt
  are unknown (S1pt is fitted, S2pt folds into L0).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

LAMBDA = 0.999
S2_FORMS = {
    "paper": "S2 = sum of momentum m_i (paper Eq. 1)",
    "lr-weighted": "S2 = sum of m_i * eta_i^eps (paper App. J), stops growing once the LR is ~0",
}


@dataclass(frozen=True, eq=False)
class Areas:
    """Per-step areas for a run, index = step. During PT, S1cpt = S2cpt = 0 and S1pt/S2pt grow;
    during CPT, S1pt/S2pt are frozen at the transfer point."""

    S1pt: np.ndarray
    S2pt: np.ndarray
    S1cpt: np.ndarray
    S2cpt: np.ndarray
    transfer_step: int
    pt_history_known: bool = True
    cpt_from: int | None = None  # index of the first CPT element (None: transfer_step + 1)
    lr: np.ndarray | None = None  # dense per-step LR of the run (index = step), for ``clock``
    rows: np.ndarray | None = None  # step of each element when subsampled (None: index = step)
    # the run's rows (step, LR), LR linear between them, when the areas were computed per segment
    # (``areas_at_rows``) and no dense LR was built: the LR clock builds it only when asked
    knots: tuple[np.ndarray, np.ndarray] | None = None

    def clock(self, rho: float | None, eta_ref: float | None) -> np.ndarray:
        """The LR clock of the shift at each element: the generalised CPT forward area
        ``sum over CPT steps i <= t of eta_i^rho * eta_ref^(1-rho)`` (``lr_clock``).

        It is S1cpt when rho is None or 1, and - the documented default - when the areas carry no
        per-step LR (built by hand from end-of-CPT values): then the clock is S1cpt as if every CPT
        step ran at eta_ref."""
        if rho is None or rho == 1.0 or (self.lr is None and self.knots is None):
            return self.S1cpt
        lr = self.lr
        if lr is None:  # per-segment areas: the clock's power has no closed form, so go dense
            st, v = self.knots
            lr = np.interp(np.arange(int(st[-1]) + 1), st, v)
        dense = lr_clock(lr, self.transfer_step, rho, eta_ref)
        return dense if self.rows is None else dense[self.rows]

    def cpt_peak(self) -> float | None:
        """The largest CPT LR of the run (the peak forms' eta_peak); None without a per-step LR or
        without CPT steps."""
        if self.lr is not None:
            cpt = self.lr[self.transfer_step + 1 :]
        elif self.knots is not None:
            st, v = self.knots
            cpt = np.concatenate(
                ([np.interp(self.transfer_step + 1, st, v)], v[st > self.transfer_step])
            )
        else:
            return None
        return float(np.max(cpt)) if cpt.size else None

    @property
    def cpt_index(self) -> int:
        """Index of the first element after the transfer point (where CPT terms can be non-zero)."""
        if self.cpt_from is not None:
            return self.cpt_from
        if not self.pt_history_known:
            return 0
        # S1cpt never decreases and is 0 up to the transfer point: the CPT part starts at its first
        # positive value, whatever the arrays were built from (dense steps, logged rows, by hand)
        return int(np.searchsorted(self.S1cpt, 0.0, side="right"))

    def at(self, steps: np.ndarray) -> Areas:
        """The areas at the given (increasing) steps only, for evaluating the law at logged rows."""
        s = np.asarray(steps, dtype=np.int64)
        cpt_from = int(np.searchsorted(s, self.transfer_step, side="right"))
        return Areas(
            self.S1pt[s],
            self.S2pt[s],
            self.S1cpt[s],
            self.S2cpt[s],
            self.transfer_step,
            self.pt_history_known,
            cpt_from,
            self.lr,
            s if self.rows is None else self.rows[s],
            self.knots,
        )

    def select(self, ok: np.ndarray) -> Areas:
        """The elements where ``ok`` (a mask over this array's elements) of areas at given steps
        (``rows`` set, as ``at`` or ``row_areas`` give them)."""
        rows = self.rows[ok]
        return Areas(
            self.S1pt[ok],
            self.S2pt[ok],
            self.S1cpt[ok],
            self.S2cpt[ok],
            self.transfer_step,
            self.pt_history_known,
            int(np.searchsorted(rows, self.transfer_step, side="right")),
            self.lr,
            rows,
            self.knots,
        )

    def __len__(self) -> int:
        return len(self.S1pt)


def decay_sum(d: np.ndarray, a: float, *, overwrite: bool = False) -> np.ndarray:
    """y_i = a*y_{i-1} + d_i with y_{-1} = 0 (a in [0, 1)), in O(n) numpy passes.

    The steps are cut into blocks of K, short enough that a^-K <= 2: inside a block
    y_j = a^j * cumsum(a^-i * d_i) loses at most a bit of precision, and the value carried into each
    block is the same recursion over the block ends with factor a^K (solved by a recursive call).
    When a is so small that K would be tiny, rows of sqrt(n) blocks are stepped together instead.
    Agrees with ``scipy.signal.lfilter([1], [1, -a], d)`` to ~1e-14 relative (tests/test_areas.py).
    ``overwrite``: the result may be written into ``d`` (a float64 array the caller owns)."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n <= 64:  # the carries of a long run: a few dozen values
        y = np.empty(n)
        acc = 0.0
        for i, v in enumerate(d.tolist()):
            acc = a * acc + v
            y[i] = acc
        return y
    K = min(n, int(math.log(2.0) / -math.log(a))) if 0.0 < a < 1.0 else 1
    if K >= 16:
        # full blocks in y's own buffer (no padded copy: at 1M steps a new array costs ~1 ms of
        # page faults), the last partial block as a short array of its own
        y = d if overwrite else d.copy()
        nb = n // K
        Z = y[: nb * K].reshape(nb, K)
        down = a ** np.arange(K, dtype=float)  # a^j, >= 1/2
        Z /= down
        np.cumsum(Z, axis=1, out=Z)
        Z *= down
        ends = decay_sum(Z[:, -1].copy(), a**K)  # y at the end of each full block
        Z[1:] += (a * down)[None, :] * ends[:-1, None]
        tail = y[nb * K :]
        if len(tail):
            m = len(tail)
            tail /= down[:m]
            np.cumsum(tail, out=tail)
            tail *= down[:m]
            tail += (a * down[:m]) * ends[-1]
        return y
    K = int(math.sqrt(n)) + 1  # a small: step the j-th element of every block together
    nb = -(-n // K)
    z = np.zeros(nb * K)
    z[:n] = d
    Y = z.reshape(nb, K).T.copy()
    t = np.empty(nb)
    for j in range(1, K):
        np.multiply(Y[j - 1], a, out=t)
        Y[j] += t
    ends = decay_sum(Y[-1].copy(), a**K)
    Y[:, 1:] += (a ** np.arange(1, K + 1, dtype=float))[:, None] * ends[None, :-1]
    return Y.T.reshape(-1)[:n]


def momentum(eta: np.ndarray, lam: float = LAMBDA) -> np.ndarray:
    """m_i = lambda*m_{i-1} + (eta_{i-1} - eta_i), m_0 = 0; O(n)."""
    eta = np.asarray(eta, dtype=float)
    d = np.empty_like(eta)
    d[:1] = 0.0
    np.subtract(eta[:-1], eta[1:], out=d[1:])
    return decay_sum(d, lam, overwrite=True)


def s2_naive(eta: np.ndarray, lam: float = LAMBDA) -> np.ndarray:
    """The paper's double sum, O(n^2): reference for tests and the speed baseline only."""
    n = len(eta)
    out = np.zeros(n)
    for t in range(1, n):
        k = np.arange(1, t + 1)
        inner = (eta[k - 1] - eta[k]) * (1 - lam ** (t - k + 1)) / (1 - lam)
        out[t] = inner.sum()
    return out


def lr_clock(lr: np.ndarray, transfer_step: int, rho: float, eta_ref: float) -> np.ndarray:
    """S1cpt_rho(t) = sum_{transfer < i <= t} eta_i^rho * eta_ref^(1-rho) at every step (0 up to the
    transfer point): the CPT forward area with each step's LR weighted by (eta_i/eta_ref)^(rho-1).
    rho = 1 gives S1cpt; rho > 1 makes high-LR steps count more. O(n)."""
    w = np.power(np.maximum(np.asarray(lr, dtype=float), 0.0) / eta_ref, rho) * eta_ref
    w[: transfer_step + 1] = 0.0
    return np.cumsum(w, out=w)


def pt_eta_for_s2(lr: np.ndarray, transfer_step: int) -> np.ndarray:
    """The LR sequence the momentum sees: PT warm-up ramp and step 0 raised to the PT peak."""
    eta = np.array(lr, dtype=float)
    pt = eta[: transfer_step + 1]
    if len(pt) > 1:
        peak_idx = int(np.argmax(pt[1:])) + 1  # first time the PT peak is reached
        eta[:peak_idx] = pt[peak_idx]
    return eta


def compute_areas(
    lr: np.ndarray,
    transfer_step: int | None = None,
    *,
    lam: float = LAMBDA,
    pt_history_known: bool = True,
    s2_form: str = "paper",
    eps: float = 0.1,
) -> Areas:
    """S1pt, S2pt, S1cpt, S2cpt at every step for a per-step LR array (index = step).

    ``transfer_step`` is the last PT step (None: the whole run is pre-training). For a CPT-only run
    (``pt_history_known=False``) every step is CPT and the PT model is assumed annealed to 0.
    The areas keep ``lr`` itself (read-only, not copied) for the LR clock: do not change it after.
    """
    lr = np.asarray(lr, dtype=float).view()
    lr.flags.writeable = False
    n = len(lr)
    transfer = (
        0 if not pt_history_known else (n - 1 if transfer_step is None else int(transfer_step))
    )
    if s2_form == "paper":
        S1, S2 = _blocked_s1_s2(lr, transfer, lam, pt_history_known)
    elif s2_form == "lr-weighted":
        eta = pt_eta_for_s2(lr, transfer) if pt_history_known else np.array(lr)
        if not pt_history_known:
            eta[0] = 0.0  # PT assumed annealed to zero (paper §6)
        m = momentum(eta, lam)
        m *= np.power(np.maximum(lr, 0.0), eps)
        S2 = np.cumsum(m, out=m)
        S1 = np.empty(n)
        S1[:1] = 0.0
        np.cumsum(lr[1:], out=S1[1:])
    else:
        raise ValueError(f"unknown S2 form {s2_form!r}; use one of {', '.join(S2_FORMS)}")
    if not pt_history_known:
        zeros = np.zeros(n)
        return Areas(zeros, zeros, S1, S2, 0, False, lr=lr)
    # during PT the PT areas grow and the CPT areas are 0; after the transfer the PT areas freeze.
    # Written in place over the CPT steps only (np.zeros needs no pass: fresh pages read as 0)
    S1cpt = np.zeros(n)
    S2cpt = np.zeros(n)
    np.subtract(S1[transfer + 1 :], S1[transfer], out=S1cpt[transfer + 1 :])
    np.subtract(S2[transfer + 1 :], S2[transfer], out=S2cpt[transfer + 1 :])
    S1[transfer + 1 :] = S1[transfer]
    S2[transfer + 1 :] = S2[transfer]
    return Areas(S1, S2, S1cpt, S2cpt, transfer, True, lr=lr)


_BLOCK = 16  # steps per row of the blocked areas: small matrix products, measured fastest at 1M


@functools.lru_cache(maxsize=8)
def _block_weights(lam: float, K: int = _BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The constant matrices of ``_blocked_s1_s2`` for momentum ``lam`` and rows of K steps:
    (U, G, ends, g(K)) with g(L) = 1 + lam + ... + lam^(L-1). ``U[j, i] = [j <= i]`` sums a row's
    LRs up to step i (S1); ``G[j, i] = g(i-j+1)`` for j <= i maps a row's LR drops to its S2;
    ``ends`` gives the row's own momentum and S2 at its last step."""
    i = np.arange(K)
    L = i[None, :] - i[:, None]  # [j, i] = i - j: input step j, output step i of the row
    on = L >= 0
    _, g = _geometric(lam, np.where(on, L + 1, 0))
    G = np.where(on, g, 0.0)
    q_end, _ = _geometric(lam, K - 1 - i)
    _, g_end = _geometric(lam, K - i)
    _, gK = _geometric(lam, np.array([K]))
    U = on.astype(float)
    ends = np.stack([q_end, g_end], axis=1)
    for w in (U, G, ends):
        w.flags.writeable = False
    return U, G, ends, float(gK[0])


def _blocked_s1_s2(
    lr: np.ndarray, transfer: int, lam: float, pt_history_known: bool
) -> tuple[np.ndarray, np.ndarray]:
    """S1 and S2 (paper form) at every step, by small matrix products over rows of K steps.

    With the LR drop d_k = eta_{k-1} - eta_k, S2(t) = sum_{k<=t} d_k * g(t-k+1) (the closed form of
    the double sum, notes §1.2) and S1(t) = sum_{1<=i<=t} lr_i. Inside a row of K steps both are a
    K x K product; a row starting at step s continues from the previous row's end through
    ``S2(t) = S2(s-1) + sum_{s<=k<=t} d'_k * g(t-k+1)`` with ``d'_s = d_s + lam*m(s-1)`` (the
    momentum carried in), the row ends' m and S2 found by a short recursion over rows. Every weight
    is at most K (no lam^-n growth), and S2 is exactly 0 where the LR never drops (d = 0).
    The momentum sees eta: the PT warm-up and step 0 at the PT peak, or eta_0 = 0 for a CPT-only
    run (``pt_eta_for_s2``, paper §6)."""
    K = _BLOCK
    n = len(lr)
    nb = -(-n // K)
    full = n // K
    U, G, ends, gK = _block_weights(float(lam), K)
    flat = np.empty(nb * K)  # the LR drops d, padded with 0
    flat[:1] = 0.0
    np.subtract(lr[:-1], lr[1:], out=flat[1:n])
    flat[n:] = 0.0
    if pt_history_known:
        if transfer >= 1 and n > 1:  # eta = the PT peak up to the first step at the peak
            flat[1 : int(np.argmax(lr[1 : transfer + 1])) + 2] = 0.0
    elif n > 1:
        flat[1] = -lr[1]  # from eta_0 = 0 to the first LR
    d = flat.reshape(nb, K)
    rows = lr[: full * K].reshape(full, K)
    last = np.zeros(K)  # the last, partial row of LRs, padded with 0
    last[: n - full * K] = lr[full * K :]
    # each row on its own: the momentum and S2 at its last step, the sum of its LRs
    own = np.empty((nb, 2))
    sums = np.empty(nb)
    for r0, r1 in _chunks(nb):
        np.matmul(d[r0:r1], ends, out=own[r0:r1])
        q = min(r1, full)
        if r0 < q:
            np.matmul(rows[r0:q], U[:, -1], out=sums[r0:q])
    if full < nb:
        sums[full] = last.sum()
    # each row continues from the previous row's end: its S1, S2 and momentum
    m_end = decay_sum(own[:, 0], lam**K)
    d[1:, 0] += lam * m_end[:-1]  # the momentum carried into each row (d'_s)
    inc = own[:, 1]
    inc[1:] += (lam * gK) * m_end[:-1]
    S2_in = np.empty(nb)
    S2_in[0] = 0.0
    np.cumsum(inc[:-1], out=S2_in[1:])
    S1_in = np.empty(nb)
    S1_in[0] = -lr[0]  # S1 starts at step 1
    np.cumsum(sums[:-1], out=S1_in[1:])
    S1_in[1:] -= lr[0]
    S2 = np.empty(nb * K)
    S2r = S2.reshape(nb, K)
    S1r = d  # each row's drops are spent once its S2 is out: S1 reuses their memory
    for r0, r1 in _chunks(nb):  # chunks small enough for the cache and a single BLAS thread
        np.matmul(d[r0:r1], G, out=S2r[r0:r1])
        S2r[r0:r1] += S2_in[r0:r1, None]
        q = min(r1, full)
        if r0 < q:
            np.matmul(rows[r0:q], U, out=S1r[r0:q])
        if q < r1:
            np.matmul(last, U, out=S1r[full])
        S1r[r0:r1] += S1_in[r0:r1, None]
    return flat[:n], S2[:n]


def _chunks(nb: int, size: int = 1024):
    """(first, end) row ranges of at most ``size`` rows: 16k steps, ~128 kB per array, and below
    OpenBLAS's threshold for threads (on a shared machine a second thread only waits)."""
    return ((r0, min(r0 + size, nb)) for r0 in range(0, nb, size))


def _geometric(lam: float, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lam^L and 1 + lam + ... + lam^(L-1) = (1 - lam^L) / (1 - lam), for integer L >= 0."""
    L = np.asarray(L, dtype=float)
    if lam == 0.0:
        return (L == 0).astype(float), (L > 0).astype(float)
    x = L * math.log(lam)
    return np.exp(x), -np.expm1(x) / (1.0 - lam)


def areas_at_rows(
    steps: np.ndarray,
    lr: np.ndarray,
    transfer_step: int | None = None,
    *,
    lam: float = LAMBDA,
    pt_history_known: bool = True,
    s2_form: str = "paper",
    eps: float = 0.1,
    at: np.ndarray | None = None,
) -> Areas:
    """``compute_areas(np.interp(range(last+1), steps, lr), ...).at(at)`` without per-step arrays.

    The LR is linear between the rows (``Run.dense_lr``), so per linear segment of length L the
    forward area grows by an arithmetic sum, and the momentum - whose increment
    ``eta_{i-1} - eta_i = d`` is constant on the segment - follows a geometric series,
    ``m_{a+L} = lam^L m_a + d (1 - lam^L) / (1 - lam)``. S2 (paper form) then comes from the summed
    recursion ``S2(t) = (eta_0 - eta_t - lam m_t) / (1 - lam)``, as in ``compute_areas``. The work
    is O(rows + len(at)) whatever the number of steps. Conventions as in ``compute_areas``: the PT
    warm-up (and step 0) count at the PT peak for S2, a CPT-only run starts its momentum from LR 0,
    the PT areas freeze after ``transfer_step``.

    ``at``: the (increasing) steps to evaluate, any step 0..last (default: the rows). The
    ``lr-weighted`` S2 form (a sum of m_i * eta_i^eps) has no practical closed form: it falls back
    to the per-step path. The returned areas keep the rows (``Areas.knots``) for the LR clock."""
    st = np.asarray(steps, dtype=np.int64)
    v_rows = np.asarray(lr, dtype=float)
    last = int(st[-1])
    at = st if at is None else np.asarray(at, dtype=np.int64)
    if s2_form == "lr-weighted":
        dense = np.interp(np.arange(last + 1), st, v_rows)
        full = compute_areas(
            dense,
            transfer_step,
            lam=lam,
            pt_history_known=pt_history_known,
            s2_form=s2_form,
            eps=eps,
        )
        return full.at(at)
    if s2_form != "paper":
        raise ValueError(f"unknown S2 form {s2_form!r}; use one of {', '.join(S2_FORMS)}")
    transfer = (
        0 if not pt_history_known else (last if transfer_step is None else int(transfer_step))
    )
    # knots: the rows, step 0 and 1 (the momentum's first increment), the transfer point and the
    # requested steps; the LR is linear between consecutive knots
    extra = [0, min(1, last), transfer]
    K = np.union1d(np.union1d(st[(st >= 0) & (st <= last)], at), np.array(extra, dtype=np.int64))
    v = np.interp(K, st, v_rows)  # the same values as the dense LR at these steps
    L = np.diff(K).astype(float)
    # S1(t) = sum_{i=1..t} lr_i: per segment L*v_a + (v_b - v_a)*(L+1)/2
    S1 = np.empty(len(K))
    S1[0] = 0.0
    np.cumsum(L * v[:-1] + (v[1:] - v[:-1]) * (L + 1.0) / 2.0, out=S1[1:])
    # the LR the momentum sees
    e = v.copy()
    if not pt_history_known:
        e[0] = 0.0
    elif transfer >= 1:
        pt = (K >= 1) & (K <= transfer)  # the dense PT peak lies on a knot
        idx = np.flatnonzero(pt)
        peak = idx[int(np.argmax(v[idx]))]  # first knot at the peak = first step at the peak
        e[:peak] = v[peak]
    q, g = _geometric(lam, L)
    c = (e[:-1] - e[1:]) / np.where(L > 0, L, 1.0) * g  # d * (1 - lam^L) / (1 - lam)
    m = np.empty(len(K))
    acc = 0.0
    m[0] = 0.0
    for j, (qj, cj) in enumerate(zip(q.tolist(), c.tolist(), strict=True), start=1):
        acc = qj * acc + cj
        m[j] = acc
    S2 = (e[0] - e - lam * m) * (1.0 / (1.0 - lam))
    i = np.searchsorted(K, at)
    cpt_from = int(np.searchsorted(at, transfer, side="right"))
    knots = (st, v_rows)
    if not pt_history_known:
        zeros = np.zeros(len(at))
        return Areas(zeros, zeros, S1[i], S2[i], 0, False, cpt_from, rows=at, knots=knots)
    it = int(np.searchsorted(K, transfer))
    after = at > transfer
    S1pt = np.where(after, S1[it], S1[i])
    S2pt = np.where(after, S2[it], S2[i])
    S1cpt = np.where(after, S1[i] - S1[it], 0.0)
    S2cpt = np.where(after, S2[i] - S2[it], 0.0)
    return Areas(S1pt, S2pt, S1cpt, S2cpt, transfer, True, cpt_from, rows=at, knots=knots)


def is_sparse(run) -> bool:
    """Whether a run's rows are so sparse (last step > 4 x rows) that its areas are computed per
    linear segment (``areas_at_rows``) instead of at every step."""
    return int(run.step[-1]) > 4 * len(run.step)


def run_areas(run, *, lam: float = LAMBDA, s2_form: str = "paper", eps: float = 0.1) -> Areas:
    """Areas at every step of a canonical ``Run`` (its LR interpolated to every step first)."""
    lr = run.dense_lr()
    transfer = run.transfer_step if run.has_cpt else None
    return compute_areas(
        lr, transfer, lam=lam, pt_history_known=run.pt_history_known, s2_form=s2_form, eps=eps
    )


def row_areas(
    run,
    *,
    lam: float = LAMBDA,
    s2_form: str = "paper",
    eps: float = 0.1,
    at: np.ndarray | None = None,
) -> Areas:
    """Areas at each row of a canonical ``Run`` (``Areas.rows`` = its steps), or at the steps
    ``at`` (increasing, any of 0..last step): per linear segment (``areas_at_rows``,
    O(rows + len(at))) when the rows are sparse (``is_sparse``), else through the per-step arrays
    (``run_areas``). The same values either way, to ~1e-12 relative."""
    steps = run.step if at is None else np.asarray(at, dtype=np.int64)
    if is_sparse(run) and s2_form == "paper":
        transfer = run.transfer_step if run.has_cpt else None
        return areas_at_rows(
            run.step,
            run.lr,
            transfer,
            lam=lam,
            pt_history_known=run.pt_history_known,
            s2_form=s2_form,
            eps=eps,
            at=steps,
        )
    return run_areas(run, lam=lam, s2_form=s2_form, eps=eps).at(steps)
