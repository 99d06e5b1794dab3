"""TDM lab: the env, the exact reachability, the TDM target and relabelling, a short training
(the page: tests/app/test_tdm_page.py)."""

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from engine.context import LocalContext
from engine.labs.tdm import evaluate, reachability, tdm, train
from engine.labs.tdm.buffer import TrajectoryBuffer
from engine.labs.tdm.config import SPACE
from engine.labs.tdm.envs import LAYOUTS, PointMassEnv, move
from engine.labs.tdm.networks import Actor, Critic

TINY_TDM = {
    "baseline": True,
    "env_steps": 60,
    "warmup": 20,
    "eval_every": 30,
    "batch": 16,
    "hidden": 8,
    "eval_pairs": 10,
    "episode_steps": 20,
    "buffer_episodes": 10,
    "tau_max": 5,
}
GOAL_INDEX = {round(v, 2): i for i, v in enumerate(reachability.GOALS)}


def at(distances: np.ndarray, tau: int, goal: tuple[float, float]) -> float:
    return float(distances[tau, GOAL_INDEX[goal[1]], GOAL_INDEX[goal[0]]])  # rows are y


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_env_passes_gymnasiums_checker(layout):
    env = PointMassEnv(layout)
    check_env(env, skip_render_check=True)
    observation, _ = env.reset(seed=1, options={"start": (0.0, 0.0), "goal": (0.3, 0.0)})
    observation, reward, _, _, info = env.step(np.array([1.0, 0.0]))
    assert np.allclose(observation["achieved_goal"], [0.15, 0.0]) and reward == pytest.approx(-0.15)
    assert reward == env.compute_reward(observation["achieved_goal"], observation["desired_goal"], {})
    assert not info["is_success"]


def test_a_move_into_a_wall_slides_along_it():
    walls = LAYOUTS["wall"].walls
    pushed = move(np.array([-0.1, -0.5]), np.array([1.0, 0.5]), 0.15, walls)
    assert np.allclose(pushed, [-0.1, -0.425])  # the x part would enter the wall: only the y part is kept
    through_gap = move(np.array([-0.1, 0.0]), np.array([1.0, 0.0]), 0.15, walls)
    assert np.allclose(through_gap, [0.05, 0.0])


def test_exact_reachability_in_the_open_room_by_hand():
    d = reachability.exact_distances("open", np.array([0.0, 0.0]), 3, 0.15)
    # one action reaches the square |x|, |y| <= 0.15; the distance left is L1 from that square
    assert at(d, 0, (0.5, 0.0)) == pytest.approx(0.35)
    assert at(d, 0, (0.3, 0.3)) == pytest.approx(0.3)
    assert at(d, 0, (0.1, -0.15)) == 0.0
    assert at(d, 1, (0.5, 0.0)) == pytest.approx(0.2)  # two actions: the square grows to 0.3
    assert at(d, 3, (0.6, 0.6)) == 0.0
    assert (np.diff(d, axis=0) <= 1e-12).all()  # more steps never hurt: staying put is an action


def test_exact_reachability_when_a_wall_is_in_the_way_by_hand():
    start, goal = np.array([-0.4, -0.5]), (0.5, -0.5)
    walled = reachability.exact_distances("wall", start, 6, 0.15)
    open_room = reachability.exact_distances("open", start, 6, 0.15)
    assert at(walled, 0, goal) == pytest.approx(0.75)  # one step right: x = -0.25
    assert at(walled, 1, goal) == pytest.approx(0.6)  # x = -0.1
    assert at(walled, 2, goal) == pytest.approx(0.575)  # stuck at the wall's face x = -0.075 (the gap is too far)
    assert at(open_room, 2, goal) == pytest.approx(0.45)  # without the wall: x = 0.05
    assert at(walled, 6, goal) == 0.0  # around through the gap in seven steps
    assert reachability.goal_in_wall("wall")[GOAL_INDEX[-0.5], GOAL_INDEX[0.0]]


def test_the_target_at_tau_zero_is_the_distance_reached_and_otherwise_the_next_horizon():
    torch.manual_seed(0)
    actor, critic = Actor(16, 5, 2), Critic(16, "vector", 5, 2)
    next_state, goal = torch.tensor([[0.2, -0.1], [0.2, -0.1]]), torch.tensor([[0.5, 0.3], [0.5, 0.3]])
    tau = torch.tensor([0.0, 3.0])
    y = tdm.target(next_state, goal, tau, next_state, tau - 1, actor, critic, max_step=0.15)
    assert torch.allclose(y[0], torch.tensor([-0.3, -0.4]))  # -|s' - g| per dimension, no network involved
    two = torch.tensor([2.0])
    bootstrap = critic.psi(next_state[1:], actor(next_state[1:], goal[1:], two), goal[1:], two)[0]
    stay = torch.tensor([-0.3, -0.4])  # three actions could cover both gaps: no physical bound binds here
    assert torch.allclose(y[1], bootstrap if bootstrap.sum() > stay.sum() else stay)
    scalar = tdm.target(next_state, goal, tau, next_state, tau - 1, actor, Critic(16, "scalar", 5, 2), max_step=0.15)
    assert scalar.shape == (2, 1) and scalar[0, 0].item() == pytest.approx(-0.7)


def still_critic() -> Critic:
    """A vector critic whose every action leaves the agent where it is: f = s, so V(s, g, τ) = -|s - g|."""
    critic = Critic(8, "vector", 5, 2)
    torch.nn.init.zeros_(critic.net[-1].weight)
    torch.nn.init.zeros_(critic.net[-1].bias)
    return critic


def test_the_target_is_the_best_achievable_way_to_spend_the_horizon_within_what_the_physics_allows():
    actor, critic = Actor(8, 5, 2), still_critic()
    next_state, goal = torch.tensor([[0.0, 0.0]] * 3), torch.tensor([[0.7, 0.1]] * 3)
    tau = torch.tensor([2.0, 5.0, 5.0])
    # the replayed trajectory went on to the goal itself (row 0, 1) or away from it (row 2)
    later_state = torch.tensor([[0.7, 0.1], [0.7, 0.1], [-0.5, 0.0]])
    y = tdm.target(next_state, goal, tau, later_state, torch.tensor([0.0, 1.0, 1.0]), actor, critic, max_step=0.15)
    # two more actions move x by at most 0.3: the trajectory's 0 is clipped to the physical bound
    assert torch.allclose(y[0], torch.tensor([-0.4, 0.0]))
    assert torch.allclose(y[1], torch.tensor([0.0, 0.0]))  # five actions can: the trajectory's value is kept
    assert torch.allclose(y[2], torch.tensor([-0.7, -0.1]))  # nothing better than staying at s' (f = s)
    scalar = tdm.target(
        next_state,
        goal,
        tau,
        later_state,
        torch.tensor([0.0, 1.0, 1.0]),
        actor,
        Critic(8, "scalar", 5, 2),
        max_step=0.15,
    )
    assert (scalar[:, 0] <= torch.tensor([-0.4, 0.0, 0.0]) + 1e-6).all() and (scalar[:, 0] >= -0.8 - 1e-6).all()


def line_buffer() -> TrajectoryBuffer:
    """Three episodes of five steps on lines: episode e moves along x by 0.1 a step at y = e."""
    buffer = TrajectoryBuffer(episodes=4, steps=5)
    for episode in range(3):
        buffer.begin(np.array([0.0, episode]), np.array([9.0, 9.0]))
        for t in range(1, 6):
            buffer.add(np.zeros(2), np.array([t / 10, episode]))
    return buffer


def test_goals_are_relabelled_with_later_states_of_the_same_trajectory_and_taus_uniformly():
    rng = np.random.default_rng(0)
    buffer = line_buffer()
    later = buffer.sample(500, rng, future=1.0, random=0.0, tau_max=5, walls=())
    assert (later.goal[:, 1] == later.state[:, 1]).all()  # the same episode
    assert (later.goal[:, 0] > later.state[:, 0]).all()  # strictly later: at or after s_{t+1}
    assert (later.goal[:, 0] >= later.next_state[:, 0]).all()
    assert np.allclose(later.next_state[:, 0] - later.state[:, 0], 0.1)
    original = buffer.sample(100, rng, future=0.0, random=0.0, tau_max=5, walls=())
    assert (original.goal == 9.0).all()
    anywhere = buffer.sample(200, rng, future=0.0, random=1.0, tau_max=5, walls=LAYOUTS["wall"].walls)
    assert np.abs(anywhere.goal).max() <= 1 and len(np.unique(anywhere.goal[:, 0])) == 200
    taus = buffer.sample(10_000, rng, future=0.4, random=0.5, tau_max=5, walls=()).tau
    assert set(taus) == set(range(6)) and abs(np.bincount(taus).std() / np.bincount(taus).mean()) < 0.1
    assert (buffer.sample(100, rng, future=0.4, random=0.5, tau_max=0, walls=()).tau == 0).all()  # DDPG's


def test_the_later_state_lies_on_the_same_trajectory_within_the_horizon():
    batch = line_buffer().sample(2000, np.random.default_rng(1), future=0.4, random=0.5, tau_max=5, walls=())
    assert (batch.later_state[:, 1] == batch.state[:, 1]).all()
    j = np.round((batch.later_state[:, 0] - batch.state[:, 0]) * 10).astype(int)  # steps walked, ≤ the episode's end
    end = np.isclose(batch.later_state[:, 0], 0.5)
    assert (j >= 1).all() and (j <= np.maximum(batch.tau, 1)).all()
    horizon = batch.tau >= 1
    assert (batch.later_tau[horizon & ~end] == (batch.tau - j)[horizon & ~end]).all()
    assert (batch.later_tau[horizon] <= (batch.tau - j)[horizon]).all()  # past the end: stayed, fewer steps walked


def test_a_short_training_learns_heatmaps_that_follow_the_truth():
    values = SPACE.resolve(
        "quick",
        {
            "layout": "open",
            "baseline": False,
            "env_steps": 900,
            "warmup": 200,
            "eval_every": 900,
            "tau_max": 5,
            "hidden": 32,
            "eval_pairs": 50,
        },
    )
    config = SPACE.typed(values)
    players, done, _ = train.run(config, LocalContext(values))
    assert done == 900
    start = np.array(LAYOUTS["open"].starts[0])
    truth = reachability.exact_distances("open", start, 5, config.max_step)
    model = evaluate.predicted_distances(players["tdm"].learner.averaged(), start, 5)
    correlation = np.corrcoef(model[:3].ravel(), truth[:3].ravel())[0, 1]
    assert correlation > 0.9, correlation
    untrained = evaluate.predicted_distances(train.make_players(config)["tdm"].learner.averaged(), start, 5)
    assert np.abs(model - truth).mean() < 0.5 * np.abs(untrained - truth).mean()


def test_train_reports_curves_heatmaps_and_a_checkpoint_and_stops_cleanly():
    config = SPACE.resolve("quick", TINY_TDM)
    ctx = LocalContext(config)
    summary = train.train(config, ctx)
    assert summary["stopped"] == 0.0 and summary["env_steps_done"] == 60
    assert [step for step, _ in ctx.metrics["tdm_success"]] == [30, 60] and "ddpg_success" in ctx.metrics
    step, heatmap = ctx.snapshots["heatmap"]
    assert step == 60 and heatmap["distance"].shape == (6, 41, 41)
    assert {"tdm", "ddpg", "config", "tdm_curve"} <= set(ctx.checkpoints[-1])
    stopped = LocalContext(config, stop_after_polls=40)
    assert train.train(config, stopped)["stopped"] == 1.0 and stopped.checkpoints
    assert stopped.fraction < 1.0  # "stopped · 100 %" no more: a stopped run keeps the share it reached


def test_bad_values_are_rejected_with_a_message():
    from engine.params import ConfigError

    with pytest.raises(ConfigError, match="relabelling shares"):
        SPACE.resolve("quick", {"future_goals": 0.8, "random_goals": 0.5})
    with pytest.raises(ConfigError, match="max_step"):
        SPACE.resolve("quick", {"max_step": 0.13})
    with pytest.raises(ConfigError, match="bench_layouts"):
        SPACE.resolve("quick", {"bench_layouts": "open,maze"})
