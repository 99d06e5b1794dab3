"""The exact Bayes-optimal finite-horizon bandit policy, by dynamic programming over posteriors (2 arms).

The agent knows the prior over tasks (the family) but not the task. Its belief after t pulls is a
posterior, summarised by a few counts, and the optimal policy maximises the expected total reward:

    V_t(state) = max_a [ E[r | state, a] + E_{r} V_{t+1}(state after (a, r)) ],   V_pulls = 0.

One backup function per family, over every state at pull t at once (numpy). The tables hold, per pull,
the preferred arm at every state; the value gives the exact expected regret, pulls * E[max_i p_i] - V_0.
For more than 2 arms the state space explodes: `bayes_optimal` returns None and no Bayes baseline is shown.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from engine.labs.meta_rl.bandits import TWO_POINT, check_arms

TIE = -1  # both arms are exactly as good: the policy picks one at random
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class BayesOptimal:
    task: str
    pulls: int
    expected_regret: float  # exact, from V_0: what the policy's regret averages to over the family
    tables: tuple[np.ndarray, ...]  # tables[t][state] = preferred arm before pull t (0, 1 or TIE)

    def preferred_arm(self, successes: np.ndarray, failures: np.ndarray, t: int) -> np.ndarray:
        """Look up the optimal arm for a batch of bandits, from per-arm (n, 2) success/failure counts."""
        return self.tables[t][posterior_state(self.task, self.pulls, successes, failures)]


def posterior_state(task: str, pulls: int, successes: np.ndarray, failures: np.ndarray) -> tuple[np.ndarray, ...]:
    """The counts that summarise the posterior, as an index into that family's table."""
    if task == "independent":  # Beta(1 + s_i, 1 + f_i) per arm; f_2 = t - s_1 - f_1 - s_2 is implied
        return successes[:, 0], failures[:, 0], successes[:, 1]
    if task == "dependent":  # Beta over p: evidence for p = successes of arm 0 + failures of arm 1
        return (successes[:, 0] + failures[:, 1],)
    # two-point: net evidence that arm 0 is the good one, offset to be a non-negative index
    return (successes[:, 0] - failures[:, 0] - successes[:, 1] + failures[:, 1] + pulls,)


def prefer(q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    return np.where(np.abs(q0 - q1) <= TIE_TOLERANCE, TIE, np.where(q0 > q1, 0, 1)).astype(np.int8)


def backup_independent(v_next: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """One Bellman backup for independent arms, Beta(1,1) priors.

    Index: [s1, f1, s2] (entries off the simplex unused).
    """
    s1, f1, s2 = np.ogrid[: t + 1, : t + 1, : t + 1]
    f2 = np.maximum(t - s1 - f1 - s2, 0)
    p1, p2 = (s1 + 1) / (s1 + f1 + 2), (s2 + 1) / (s2 + f2 + 2)  # posterior means = P(reward | arm)
    now = v_next[: t + 1, : t + 1, : t + 1]  # V_{t+1}(s1, f1, s2): that is, f2 grew by one
    q0 = p1 * (1 + v_next[1:, : t + 1, : t + 1]) + (1 - p1) * v_next[: t + 1, 1:, : t + 1]
    q1 = p2 * (1 + v_next[: t + 1, : t + 1, 1:]) + (1 - p2) * now
    return np.maximum(q0, q1), prefer(q0, q1)


def backup_dependent(v_next: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """One Bellman backup for dependent arms (p, 1-p). Index: [a] = evidence for p, t - a against."""
    a = np.arange(t + 1)
    mean_p = (a + 1) / (t + 2)
    more, same = v_next[1:], v_next[:-1]  # V_{t+1}(a + 1), V_{t+1}(a)
    q0 = mean_p * (1 + more) + (1 - mean_p) * same  # arm 0 pays with p: a success is evidence for p
    q1 = (1 - mean_p) * (1 + same) + mean_p * more  # arm 1 pays with 1-p: its failure is evidence for p
    return np.maximum(q0, q1), prefer(q0, q1)


def backup_two_point(v_next: np.ndarray, t: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """One Bellman backup for a two-point family. Index: [k + pulls], k = net evidence that arm 0 is the good one.

    With high = 1 - low every observation multiplies the odds by (high/low)^(+-1), so the posterior
    P(arm 0 good) = sigmoid(k log(high/low)) depends on k alone. Unreachable k are computed and never read.
    """
    pulls = (len(v_next) - 1) // 2
    k = np.arange(-pulls, pulls + 1)
    good0 = 1 / (1 + (low / high) ** k)
    up = np.append(v_next[1:], 0.0)  # V_{t+1}(k + 1)
    down = np.insert(v_next[:-1], 0, 0.0)  # V_{t+1}(k - 1)
    pays0 = good0 * high + (1 - good0) * low
    pays1 = good0 * low + (1 - good0) * high
    q0 = pays0 * (1 + up) + (1 - pays0) * down
    q1 = pays1 * (1 + down) + (1 - pays1) * up
    return np.maximum(q0, q1), prefer(q0, q1)


@functools.lru_cache(maxsize=4)
def bayes_optimal(task: str, arms: int, pulls: int) -> BayesOptimal | None:
    """Solve the family by backward induction from V_pulls = 0. None when no exact DP is feasible (> 2 arms)."""
    check_arms(task, arms)
    if arms != 2:
        return None
    if task == "independent":
        value, best_mean, start = np.zeros((pulls + 1,) * 3), 2 / 3, (0, 0, 0)  # E[max(p1, p2)], p_i ~ U[0,1]
        backup = backup_independent
    elif task == "dependent":
        value, best_mean, start = np.zeros(pulls + 1), 3 / 4, (0,)  # E[max(p, 1-p)]
        backup = backup_dependent
    else:
        low, high = TWO_POINT[task]
        assert abs(low + high - 1) < 1e-12, "the evidence count k needs high = 1 - low"
        value, best_mean, start = np.zeros(2 * pulls + 1), high, (pulls,)  # index pulls is k = 0
        backup = functools.partial(backup_two_point, low=low, high=high)
    tables = []
    for t in reversed(range(pulls)):
        value, table = backup(value, t)
        tables.append(table)
    return BayesOptimal(task, pulls, pulls * best_mean - float(value[start]), tuple(reversed(tables)))
