"""Does the dream know what moving does? The probe of M's bias, the one C will exploit.

From real states of held-out episodes (some `lead` steps before a real hit, some anywhere), each behaviour (holding
one action, or the trained controller) is played `horizon` steps in the real game and dreamt by M from the same real
(z, h). ViZDoom is seeded and deterministic: the real game is replayed from the episode's seed through its actions
to the state, then the behaviour is held. The dream starts from z_t = V's mean of the real frame and h_t = M's
memory of the real episode so far; for each of `dreams` dreams at temperature τ,

    P(hit within H) = 1 - prod_{j < H} (1 - p_j),    p_j = M's P(death) at dreamt step j,

averaged over the dreams (their odds, not one draw each). The figures: the hit rate of each behaviour, real beside
dreamt, and pair_order, the share of behaviour pairs from one state that reality separates (one was hit, the other
not) which the dream orders the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from engine.labs.world_models.dream import DreamState, World, step
from engine.labs.world_models.rollouts import Episode, RandomPolicy, episode_seeds, play, remember
from engine.labs.world_models.vae import to_tensor

CONTROLLER = "controller"


@dataclass
class ProbeStates:
    """Real states of held-out episodes to probe from."""

    episodes: list[Episode]  # the held-out episodes, frames kept
    seeds: np.ndarray  # (E,) each episode's reset seed: the real game replays it
    episode: np.ndarray  # (S,) the episode of each state
    step: np.ndarray  # (S,) the state's step: frames[step] is what the player sees, actions[:step] led there
    near_hit: np.ndarray  # (S,) bool: a real hit came `lead` steps later in the episode


def probe_states(
    make_env: Callable[[int], gym.Env],
    action_space: gym.Space,
    episodes: int,
    repeat: int,
    seed: int,
    lead: int,
    poll: Callable[[], None],
    slots: int,
) -> ProbeStates:
    """Random-policy episodes (actions held 1 to `repeat` steps, as in the collected data) never seen by V or M;
    from each, the state `lead` steps before its first hit (when it has one that late) and one at a random step."""
    played = play(make_env, RandomPolicy(action_space, repeat, seed), episodes, seed, poll, slots)
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, int, bool]] = []
    for index, episode in enumerate(played):
        hits = np.flatnonzero(episode.damage > 0)
        late = hits[hits > lead]
        if len(late):
            chosen.append((index, int(late[0]) - lead, True))
        if len(episode) > 2:
            chosen.append((index, int(rng.integers(1, len(episode) - 1)), False))
    episode, at, near = (np.array(column) for column in zip(*chosen, strict=True))
    return ProbeStates(played, episode_seeds(seed, episodes), episode, at, near.astype(bool))


@torch.no_grad()
def real_memory(
    world: World, episode: Episode, at: int
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """What C and the dream see at step `at` of a real episode: z = V's mean of the frame, M's LSTM state and its
    output h after reading the episode's (z, a) so far."""
    z, _ = world.vae.encode(to_tensor(episode.frames[: at + 1]))
    actions = world.controller.action_vectors(torch.as_tensor(episode.actions[:at]))
    hidden, lstm = world.rnn.lstm(torch.cat([z[:-1], actions], -1).unsqueeze(0))
    return z[-1:], lstm, hidden[:, -1]


def real_outcomes(
    make_env: Callable[[int], gym.Env],
    states: ProbeStates,
    actions: dict[str, int],
    names: list[str],
    horizon: int,
    poll: Callable[[], None],
    world: World | None = None,
    params: torch.Tensor | None = None,
) -> np.ndarray:
    """(S, B) bool: the real game, replayed to each state, then behaviour b for `horizon` steps: was the player hit?"""
    env = make_env(int(states.seeds[0]))
    hit = np.zeros((len(states.step), len(names)), bool)
    try:
        for s, (index, at) in enumerate(zip(states.episode, states.step, strict=True)):
            episode = states.episodes[index]
            for b, name in enumerate(names):
                poll()
                _, info = env.reset(seed=int(states.seeds[index]))
                for action in episode.actions[:at]:
                    frame, _, _, _, info = env.step(action)
                health = info.get("health", 0.0)
                if name == CONTROLLER:
                    z, lstm, hidden = real_memory(world, episode, at)
                for _ in range(horizon):
                    if name == CONTROLLER:
                        action = world.controller.act(params.unsqueeze(0), torch.cat([z, hidden], -1)[None])[
                            0, 0
                        ].item()
                    else:
                        action = actions[name]
                    frame, _, terminated, truncated, info = env.step(action)
                    if terminated or info.get("health", health) < health:
                        hit[s, b] = True
                        break
                    if truncated:
                        break
                    if name == CONTROLLER:
                        hidden, lstm = remember(world, z, [action], lstm)
                        with torch.no_grad():
                            z, _ = world.vae.encode(to_tensor(frame[None]))
    finally:
        env.close()
    return hit


@torch.no_grad()
def dreamt_odds(
    world: World,
    states: ProbeStates,
    actions: dict[str, int],
    names: list[str],
    horizon: int,
    taus: list[float],
    dreams: int,
    seed: int,
    params: torch.Tensor | None = None,
) -> np.ndarray:
    """(T, S, B) float: M's P(hit within `horizon`) for each τ, state and behaviour, `dreams` dreams averaged."""
    generator = torch.Generator().manual_seed(seed)
    starts = [real_memory(world, states.episodes[i], at) for i, at in zip(states.episode, states.step, strict=True)]
    rows = len(starts) * len(names) * dreams  # every (state, behaviour, dream) at once
    z = torch.cat([start[0] for start in starts]).repeat_interleave(len(names) * dreams, 0)
    lstm = tuple(
        torch.cat([start[1][i] for start in starts], 1).repeat_interleave(len(names) * dreams, 1) for i in range(2)
    )
    hidden = torch.cat([start[2] for start in starts]).repeat_interleave(len(names) * dreams, 0)
    behaviour = torch.arange(len(names)).repeat_interleave(dreams).repeat(len(starts))
    held = torch.as_tensor([actions.get(name, 0) for name in names])[behaviour]
    controlled = torch.as_tensor([name == CONTROLLER for name in names])[behaviour]
    odds = []
    for tau in taus:
        state = DreamState(z, lstm, hidden, torch.ones(rows, dtype=torch.bool), torch.zeros(rows))
        safe = torch.ones(rows)
        for _ in range(horizon):
            chosen = held
            if controlled.any():
                by_c = world.controller.act(params.unsqueeze(0), state.features().unsqueeze(0))[0]
                chosen = torch.where(controlled, by_c, held)
            state, p_hit = step(world, state, chosen, tau, generator)
            safe = safe * (1 - p_hit)
        odds.append((1 - safe).view(len(starts), len(names), dreams).mean(-1).numpy())
    return np.stack(odds)


def pair_order(real: np.ndarray, dreamt: np.ndarray) -> tuple[float, int]:
    """(share ordered as reality, pairs): over behaviour pairs of one state where one was hit and the other not,
    how often the dream gives the hit one the higher odds (a tie counts half)."""
    right, pairs = 0.0, 0
    for a, b in itertools.combinations(range(real.shape[1]), 2):
        differ = real[:, a] != real[:, b]
        hit_first = np.where(real[:, a], dreamt[:, a] - dreamt[:, b], dreamt[:, b] - dreamt[:, a])[differ]
        right += float((hit_first > 0).sum() + 0.5 * (hit_first == 0).sum())
        pairs += int(differ.sum())
    return (right / pairs if pairs else float("nan")), pairs


def pair_order_ceiling(real: np.ndarray, near_hit: np.ndarray) -> float:
    """What a dream with the true odds would score on these pairs, each real outcome being a single draw, with the
    true odds estimated by each behaviour's real hit rate among states of the same kind (near a hit, or anywhere):
    the score of a dream that knows what an action does on average, not in this state (a state's own odds, which
    one draw per pair cannot measure, would score higher)."""
    odds = np.zeros(real.shape)
    for kind in (True, False):
        if (near_hit == kind).any():
            odds[near_hit == kind] = real[near_hit == kind].mean(0)
    right, pairs = 0.0, 0
    for a, b in itertools.combinations(range(real.shape[1]), 2):
        pa, pb = odds[:, a], odds[:, b]
        first, second = pa * (1 - pb), pb * (1 - pa)  # P(only a is hit), P(only b is hit)
        differ = real[:, a] != real[:, b]
        with np.errstate(invalid="ignore"):
            right += float(np.nansum((np.maximum(first, second) / (first + second))[differ]))
        pairs += int(differ.sum())
    return right / pairs if pairs else float("nan")


def probe_summary(snapshot: dict[str, np.ndarray]) -> dict:
    """The probe's figures from its snapshot (the page and the bench read the same): per τ, each behaviour's real
    and dreamt hit rate, on every state and on those near a real hit, and pair_order; its ceiling."""
    real, dreamt, near = snapshot["real"].astype(bool), snapshot["dreamt"], snapshot["near_hit"].astype(bool)
    names = [str(name) for name in snapshot["behaviours"]]
    rows = []
    for tau, odds in zip(snapshot["taus"].tolist(), dreamt, strict=True):
        share, pairs = pair_order(real, odds)
        rows.append(
            {"tau": tau, "pair_order": round(share, 3), "pairs": pairs}
            | {f"dream_{name}": round(float(odds[:, b].mean()), 3) for b, name in enumerate(names)}
            | {f"dream_near_{name}": round(float(odds[near, b].mean()), 3) for b, name in enumerate(names)}
        )
    return {
        "states": len(real),
        "near_hit": int(near.sum()),
        "horizon": int(snapshot["horizon"]),
        "lead": int(snapshot["lead"]),
        "ceiling": round(pair_order_ceiling(real, near), 3),
        "real": {name: round(float(real[:, b].mean()), 3) for b, name in enumerate(names)},
        "real_near": {name: round(float(real[near, b].mean()), 3) for b, name in enumerate(names)},
        "taus": rows,
    }


@dataclass
class Probe:
    """The probe's states and the real game's outcomes there for each held action (they depend on no model)."""

    states: ProbeStates
    actions: dict[str, int]  # the held behaviours: name -> action
    real: np.ndarray  # (S, B) real_outcomes of the held actions
    horizon: int
    lead: int

    def snapshot(self, world: World, taus: list[float], dreams: int, seed: int) -> dict[str, np.ndarray]:
        """What the page and the bench read (probe_summary): real outcomes, M's odds at each τ."""
        names = list(self.actions)
        return {
            "real": self.real,
            "dreamt": dreamt_odds(world, self.states, self.actions, names, self.horizon, taus, dreams, seed).astype(
                np.float32
            ),
            "near_hit": self.states.near_hit,
            "behaviours": np.asarray(names),
            "taus": np.asarray(taus),
            "horizon": np.int64(self.horizon),
            "lead": np.int64(self.lead),
        }

    def controller(
        self,
        make_env: Callable[[int], gym.Env],
        poll: Callable[[], None],
        world: World,
        params: torch.Tensor,
        tau: float,
        dreams: int,
        seed: int,
    ) -> dict[str, float]:
        """The trained controller from the same states: its real hit rate beside the one its dream at τ promises."""
        real = real_outcomes(make_env, self.states, self.actions, [CONTROLLER], self.horizon, poll, world, params)
        dreamt = dreamt_odds(world, self.states, self.actions, [CONTROLLER], self.horizon, [tau], dreams, seed, params)
        return {"probe_real_hit": float(real.mean()), "probe_dream_hit": float(dreamt.mean())}


def make_probe(
    make_env: Callable[[int], gym.Env],
    action_space: gym.Space,
    actions: dict[str, int],
    episodes: int,
    repeat: int,
    seed: int,
    horizon: int,
    lead: int,
    poll: Callable[[], None],
    slots: int,
) -> Probe:
    states = probe_states(make_env, action_space, episodes, repeat, seed, lead, poll, slots)
    return Probe(states, actions, real_outcomes(make_env, states, actions, list(actions), horizon, poll), horizon, lead)
