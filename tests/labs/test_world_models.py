import importlib.util
import io
import math
import os

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from engine.context import LocalContext
from engine.labs.world_models.config import SPACE
from engine.labs.world_models.dream import DreamSession, DreamState, World, build_world, dream_returns, step
from engine.labs.world_models.envs import DoomTakeCover, TakeCoverEnv, make_env, vizdoom_home
from engine.labs.world_models.facts import GAMES, TIME_LIMIT
from engine.labs.world_models.mdn_rnn import MDNRNN, Prediction, death_labels, mdn_loss, sample_mdn
from engine.labs.world_models.resume import load_world
from engine.labs.world_models.train import bench, train
from engine.labs.world_models.vae import ConvVAE, salience, vae_loss
from engine.labs.world_models.viewer import SHOWN_DREAMS, real_start
from engine.params import ConfigError

# a Doom run through every stage in seconds
TINY = {
    "rounds": 1,
    "rollouts": 4,
    "rollout_steps": 40,
    "z_size": 4,
    "vae_width": 0.125,
    "vae_epochs": 1,
    "vae_frames": 200,
    "rnn_hidden": 8,
    "rnn_updates": 4,
    "rnn_window": 16,
    "cma_generations": 2,
    "cma_popsize": 4,
    "dream_episodes": 2,
    "held_out_dreams": 2,
    "dream_length": 30,
    "real_eval_episodes": 2,
    "probe_episodes": 2,
    "probe_horizon": 5,
    "probe_lead": 3,
    "probe_dreams": 2,
}
TUTORIAL = {**TINY, "env": "take_cover"}


def run(overrides: dict | None = None, context: type[LocalContext] = LocalContext, **ctx_options):
    config = SPACE.resolve("quick", TINY | (overrides or {}))
    ctx = context(config, **ctx_options)
    return train(config, ctx), ctx


# ---------------------------------------------------------------------------------------------- DoomTakeCover


def test_doom_frames_time_limit_and_the_gymnasium_checker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ViZDoom writes its ini and folders where it starts: not here
    check_env(DoomTakeCover(), skip_render_check=True)
    env = DoomTakeCover(time_limit=30)
    frame, info = env.reset(seed=0)
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8 and info["health"] == 100
    assert env.action_space.n == 3
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated):
        frame, reward, terminated, truncated, _ = env.step(0)
        steps += 1
        assert reward == 1.0
    assert truncated and not terminated and steps == 30
    env.close()
    assert TIME_LIMIT == 2100 and make_env("doom", 0).time_limit == TIME_LIMIT  # the paper's episode length
    assert list(tmp_path.iterdir()) == [] and (vizdoom_home() / "_vizdoom.ini").is_file()


def test_doom_episodes_are_reproducible_from_their_seed():
    def episode(seed: int) -> np.ndarray:
        env = make_env("doom", seed)
        frames = [env.reset(seed=seed)[0]]
        for t in range(120):
            frames.append(env.step(t // 20 % 3)[0])
        env.close()
        return np.stack(frames)

    first, again, other = episode(3), episode(3), episode(4)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)  # fireballs come from elsewhere


@pytest.fixture(scope="module")
def doom_run():
    """One tiny Doom run through every stage, shared by the tests that read it."""
    return run()


@pytest.mark.slow
def test_doom_end_to_end_through_every_stage_with_documented_formats(doom_run):
    summary, ctx = doom_run
    assert summary["stopped"] == 0.0 and summary["rounds_done"] == 1
    assert {
        "vae_loss",
        "recon_loss",
        "kl",
        "rnn_loss",
        "mdn_loss",
        "done_loss",
        "reward_loss",
        "fitness_best",
        "fitness_mean",
        "fitness_worst",
        "held_out",
        "cma_temperature",
        "cma_sigma",
        "real_score",
        "real_score_se",
        "dream_score",
        "dream_score_se",
        "random_score",
        "random_score_se",
    } <= set(ctx.metrics)
    assert [step for step, _ in ctx.metrics["fitness_best"]] == [1, 2]
    assert ctx.stage == "done" and ctx.fraction == 1.0
    assert 0 < summary["real_score"] <= TIME_LIMIT and summary["random_score"] > 0
    assert 0 <= summary["probe_real_hit"] <= 1 and 0 <= summary["probe_dream_hit"] <= 1

    step_, probe = ctx.snapshots["probe"]
    states, taus = len(probe["near_hit"]), len(probe["taus"])
    assert step_ == 4 and probe["behaviours"].tolist() == ["left", "still", "right"] and states >= 2
    assert probe["real"].shape == (states, 3) and probe["dreamt"].shape == (taus, states, 3)
    assert np.all((probe["dreamt"] >= 0) & (probe["dreamt"] <= 1))

    _, recon = ctx.snapshots["recon"]
    assert {k: (v.shape, v.dtype) for k, v in recon.items()} == {
        "frames": ((8, 64, 64, 3), np.uint8),
        "reconstructions": ((8, 64, 64, 3), np.uint8),
    }
    step_, viewer = ctx.snapshots["viewer"]
    taus, steps = len(viewer["taus"]), len(viewer["real"]) - 1
    assert step_ == 4 and viewer["real"].shape[1:] == (64, 64, 3)
    assert viewer["latents"].shape == (taus, SHOWN_DREAMS, steps + 1, 4)
    assert viewer["death"].shape == (taus, SHOWN_DREAMS, steps)
    assert np.all((viewer["lengths"] >= 1) & (viewer["lengths"] <= steps))
    assert viewer["ended"].shape == viewer["end_rate"].shape == (taus,) and viewer["real_rate"].shape == ()

    buffer = io.BytesIO()
    torch.save(ctx.checkpoints[-1], buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    world, params = load_world(checkpoint)
    assert checkpoint["config"]["env"] == "doom" and params.shape == (world.controller.n_params,)
    session = DreamSession(world, temperature=1.0)
    frame, reward, death, over = session.step(2)
    assert frame.shape == (64, 64, 3) and reward == 1.0 and 0 <= death <= 1 and isinstance(over, bool)
    starts = [real_start(world, viewer, start) for start in range(3)]  # Restart: the next real start
    assert torch.equal(starts[0].hidden, torch.zeros(1, 8)) and not torch.equal(starts[1].hidden, starts[2].hidden)
    assert DreamSession(world, 1.0, state=starts[2]).step(0)[0].shape == (64, 64, 3)


@pytest.mark.slow
def test_a_tau_table_job_trains_only_c_in_the_world_of_another_run(doom_run):
    _, base = doom_run
    world = base.checkpoints[-1]
    config = SPACE.resolve("quick", TINY | {"world_run": 7, "temperature": 0.5})
    ctx = LocalContext(config, runs={7: world})
    summary = train(config, ctx)
    assert summary["temperature"] == 0.5 and "real_score_se" in summary and "dream_score" in summary
    assert "vae_loss" not in ctx.metrics and "fitness_best" in ctx.metrics  # V and M reused, only C learnt
    reused = ctx.checkpoints[-1]["world"]
    assert all(torch.equal(reused["rnn"][k], world["world"]["rnn"][k]) for k in world["world"]["rnn"])
    with pytest.raises(ConfigError, match="run 8"):
        train(SPACE.resolve("quick", TINY | {"world_run": 8}), LocalContext(config))


@pytest.mark.slow
def test_bench_trains_one_controller_per_tau_in_one_world_beside_random():
    config = SPACE.resolve("quick", TINY | {"taus": "0.1,1.3"})
    ctx = LocalContext(config)
    figures = bench(config, ctx)
    world = ctx.checkpoints[-1]["world"]  # the world the τ table shared (and a bundle keeps): V, M, the dream starts
    assert len(world["start_mu"]) == config["rollouts"]
    assert [row["tau"] for row in figures["taus"]] == [0.1, 1.3]
    assert all({"dream_score", "dream_score_se", "real_score", "real_score_se"} <= set(row) for row in figures["taus"])
    assert set(figures["random"]) == {"random_score", "random_score_se"}
    assert set(figures["stage_seconds"]) == {"collect", "V", "M", "probes", "tau_table"}
    assert {"which_way", "distance_ratio", "v_ratio", "fireball_recall"} <= set(figures["pictures"])
    assert [row["tau"] for row in figures["probe"]["taus"]] == [0.1, 1.3]
    assert {"pair_order", "dream_still"} <= set(figures["probe"]["taus"][0]) and "still" in figures["probe"]["real"]
    assert all("probe_real_hit" in row for row in figures["taus"])


# ---------------------------------------------------------------------------------------------- the models


def test_vae_shapes_and_free_bits_floor():
    vae = ConvVAE(channels=3, z_size=8, width=0.125)
    frames = torch.rand(5, 3, 64, 64)
    reconstruction, mu, logvar = vae(frames)
    assert reconstruction.shape == frames.shape and mu.shape == logvar.shape == (5, 8)
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1
    zeros = torch.zeros(5, 8)  # posterior == prior: KL is 0, so the loss pays exactly the free-bits floor
    loss, reconstruction_loss, kl = vae_loss(reconstruction, frames, zeros, zeros, free_bits=0.5)
    assert kl.item() == 0
    assert loss.item() == pytest.approx(reconstruction_loss.item() + 0.5 * 8)


def test_salience_makes_a_miss_on_an_unusual_pixel_cost_more_than_on_the_usual_scene():
    mean_frame = torch.full((1, 3, 64, 64), 0.4)  # a grey room
    frames = mean_frame.repeat(2, 1, 1, 1)
    frames[1, :, 30:34, 30:34] = torch.tensor([1.0, 0.9, 0.2])[:, None, None]  # frame 1 holds a fireball
    blurred = mean_frame.expand(2, 3, 64, 64)  # a V that reconstructs only the room
    zeros = torch.zeros(2, 8)
    weights = salience(frames, mean_frame, 10.0)
    assert weights[0].eq(1).all() and weights[1, 0, 31, 31] == pytest.approx(1 + 10 * (0.6 + 0.5 + 0.2))
    plain = vae_loss(blurred, frames, zeros, zeros, 0.0)[1]
    weighted = vae_loss(blurred, frames, zeros, zeros, 0.0, weights)[1]
    assert weighted > plain  # the missed fireball costs more; the room's pixels cost the same
    assert vae_loss(blurred, frames, zeros, zeros, 0.0, salience(frames, mean_frame, 0.0))[1] == plain


def test_mdn_rnn_shapes_and_single_gaussian_likelihood():
    rnn = MDNRNN(z_size=6, action_size=3, hidden=16, components=5)
    prediction, hidden, (h, c) = rnn(torch.randn(2, 7, 6), torch.randn(2, 7, 3))
    assert prediction.logits.shape == prediction.mu.shape == prediction.log_sigma.shape == (2, 7, 6, 5)
    assert prediction.reward.shape == prediction.done_logit.shape == (2, 7)
    assert hidden.shape == (2, 7, 16) and h.shape == c.shape == (1, 2, 16)

    z = torch.randn(2, 7, 6)  # one standard normal component: the loss is the Gaussian negative log-likelihood
    standard = Prediction(
        torch.zeros(2, 7, 6, 1), torch.zeros(2, 7, 6, 1), torch.zeros(2, 7, 6, 1), torch.zeros(2, 7), torch.zeros(2, 7)
    )
    expected = (0.5 * z.pow(2) + 0.5 * math.log(2 * math.pi)).mean()
    assert mdn_loss(standard, z, torch.ones(2, 7)).item() == pytest.approx(expected.item(), rel=1e-5)


def mixture(logits: list[float], mu: list[float], sigma: float, n: int = 20_000) -> Prediction:
    k = len(logits)
    return Prediction(
        torch.tensor(logits).expand(n, 1, k),
        torch.tensor(mu).expand(n, 1, k),
        torch.full((n, 1, k), math.log(sigma)),
        torch.zeros(n),
        torch.zeros(n),
    )


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 2.0])
def test_temperature_scales_the_variance_of_a_single_gaussian(tau):
    generator = torch.Generator().manual_seed(0)
    samples = sample_mdn(mixture([0.0], [3.0], sigma=2.0), tau, generator)
    assert samples.mean().item() == pytest.approx(3.0, abs=0.05)
    assert samples.var().item() == pytest.approx(4.0 * tau, rel=0.05)


def test_one_temperature_per_row_samples_each_row_at_its_own():
    generator = torch.Generator().manual_seed(0)
    taus = torch.tensor([0.1, 2.0]).repeat_interleave(10_000)
    samples = sample_mdn(mixture([0.0], [0.0], sigma=1.0), taus, generator).squeeze(-1)
    assert samples[:10_000].var().item() == pytest.approx(0.1, rel=0.05)
    assert samples[10_000:].var().item() == pytest.approx(2.0, rel=0.05)


def test_low_temperature_sharpens_the_mixture_weights():
    generator = torch.Generator().manual_seed(0)
    picked_second = {}
    for tau in (0.1, 1.0, 3.0):
        samples = sample_mdn(mixture([0.0, 1.0], [-10.0, 10.0], sigma=0.1), tau, generator)
        picked_second[tau] = (samples > 0).float().mean().item()
    assert picked_second[0.1] > 0.999  # softmax([0, 10]) ~ all mass on the likelier component
    assert picked_second[1.0] == pytest.approx(1 / (1 + math.exp(-1)), abs=0.02)  # the model's own weights
    assert picked_second[3.0] == pytest.approx(1 / (1 + math.exp(-1 / 3)), abs=0.02)  # flatter


@pytest.mark.parametrize("rule, p, died", [("sample", 0.2, 0.2), ("threshold", 0.2, 1.0), ("threshold", 0.02, 0.0)])
def test_a_dream_dies_with_the_probability_m_gives_undoing_the_death_weight(rule, p, died):
    """Weighted 10x, M's odds are 10x too high: sampling divides that out; the paper's cut-off reads M's weighted
    output (0.71 for a true 0.2, 0.17 for a true 0.02) against one half."""
    world = build_world(1, 4, 0.125, 8, 5, TakeCoverEnv().action_space, death_weight=10.0, death_rule=rule)
    head = world.rnn.head
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    head.bias.data[-1] = math.log(10.0) + math.log(p / (1 - p))  # weighted odds: 10x the true P(death) = p
    generator = torch.Generator().manual_seed(0)
    state = DreamState.start(world, torch.zeros(20_000, 4))
    state, death = step(world, state, torch.ones(20_000, dtype=torch.long), 1.0, generator)
    assert death[0].item() == pytest.approx(p, abs=1e-5)
    assert 1 - state.alive.float().mean().item() == pytest.approx(died, abs=0.01)
    assert torch.all(state.returns == 1.0)  # survival games: one point per dreamt step


def test_what_m_learns_to_call_deadly():
    damage = np.array([0, 0, 5, 0, 0, 0, 0, 3], np.float32)  # a fireball hit at step 2, a fatal one at step 7
    assert death_labels(damage, True, "death", 0).tolist() == [0, 0, 0, 0, 0, 0, 0, 1]
    assert death_labels(damage, True, "death", 2).tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert death_labels(damage, True, "hit", 1).tolist() == [0, 1, 1, 0, 0, 0, 1, 1]
    assert death_labels(damage, False, "death", 2).tolist() == [0] * 8  # the time limit is no death


def test_the_doom_controller_is_one_output_read_at_plus_minus_a_third():
    from engine.labs.world_models.controller import LinearController

    axis = GAMES["doom"].axis_actions()  # left, still, right
    controller = LinearController(2, DoomTakeCover().action_space, axis=axis)
    assert controller.n_params == 3 and controller.action_size == 3
    bias = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # tanh(b) = -0.76, 0, 0.76
    assert controller.act(bias, torch.zeros(3, 1, 2))[:, 0].tolist() == list(axis)


def a_world_whose_dreams_end_where_z_strays() -> World:
    """M dreams z ~ N(0, τ) whatever it remembers, and calls a step deadly the further z lies from 0: its memory
    forgets all but tanh(z) (input and output gates open, forget gate shut), read by the death head."""
    world = build_world(1, 4, 0.125, 8, 5, TakeCoverEnv().action_space)
    rnn, hidden = world.rnn, world.rnn.hidden
    with torch.no_grad():
        for parameter in rnn.parameters():
            parameter.zero_()
        rnn.lstm.bias_ih_l0[:hidden] = 20  # the input gate open
        rnn.lstm.bias_ih_l0[hidden : 2 * hidden] = -20  # the forget gate shut
        rnn.lstm.bias_ih_l0[3 * hidden :] = 20  # the output gate open
        rnn.lstm.weight_ih_l0[2 * hidden : 2 * hidden + 4, :4] = torch.eye(4)  # h_i = tanh(tanh(z_i))
        rnn.head.weight[-1, :4] = torch.tensor([6.0, -6.0, 6.0, -6.0])
        rnn.head.bias[-1] = -8.0
    return world


def blank_episode(steps: int):
    """A one-channel episode of black frames, action 1 held throughout, ending in a death after `steps` steps."""
    from engine.labs.world_models.rollouts import Episode

    return Episode(
        np.zeros((steps + 1, 64, 64, 1), np.uint8),
        np.ones(steps, np.int64),
        np.ones(steps, np.float32),
        True,
        np.zeros(steps, np.float32),
    )


def test_at_high_tau_the_dreams_of_one_real_start_end_earlier_than_at_low_tau():
    from engine.labs.world_models.viewer import COUNTED_DREAMS, VIEW_TAUS, share_at_rate, viewer_snapshot

    steps = 40
    episode = blank_episode(steps)
    viewer = viewer_snapshot(a_world_whose_dreams_end_where_z_strays(), episode, seed=0)
    low, high = VIEW_TAUS.index(0.1), VIEW_TAUS.index(2.0)
    assert viewer["ended"][high] > viewer["ended"][low] and viewer["end_rate"][high] > 2 * viewer["end_rate"][low]
    assert np.allclose(viewer["ended"], (viewer["lengths"] < steps).mean(1), atol=0.5)  # 4 shown of 32 counted
    assert viewer["real_rate"] == pytest.approx(1 / steps) and COUNTED_DREAMS >= 32
    assert 0 < share_at_rate(1 / steps, steps) < share_at_rate(2 / steps, steps) < 1


def test_cma_candidates_dream_on_common_noise():
    """Two copies of one controller dream the very same dreams: their fitness differs only by what they do."""
    world = build_world(1, 4, 0.125, 8, 5, TakeCoverEnv().action_space)
    world.start_mu, world.start_logvar = torch.randn(3, 4), torch.zeros(3, 4)
    params = torch.randn(1, world.controller.n_params).repeat(2, 1)
    returns = dream_returns(world, params, 6, 40, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(returns[0], returns[1]) and returns.std() > 0


def test_one_step_of_m_is_its_sequence_model_with_t_1():
    rnn = MDNRNN(z_size=6, action_size=3, hidden=16, components=5)
    z, actions = torch.randn(4, 1, 6), torch.randn(4, 1, 3)
    state = (torch.randn(1, 4, 16), torch.randn(1, 4, 16))
    sequence, hidden, (_, c) = rnn(z, actions, state)
    single, hidden_1, (_, c_1) = rnn.step(z[:, 0], actions[:, 0], state)
    assert torch.allclose(sequence.mu[:, 0], single.mu, atol=1e-6) and torch.allclose(hidden[:, 0], hidden_1, atol=1e-6)
    assert torch.allclose(c, c_1, atol=1e-6)


# ---------------------------------------------------------------------------------------------- the other games


def test_take_cover_tutorial_env_passes_the_gymnasium_checker_and_random_play_dies():
    check_env(TakeCoverEnv(render_mode="rgb_array"), skip_render_check=False)
    env = make_env("take_cover", seed=0)
    frame, _ = env.reset()
    assert frame.shape == (64, 64, 1) and frame.dtype == np.uint8
    lengths = []
    for _ in range(10):
        env.reset()
        steps, over = 0, False
        while not over:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            steps, over = steps + 1, terminated or truncated
        lengths.append(steps)
    assert np.mean(lengths) < 200  # projectiles do hit a random player


def test_cartpole_frames_and_config_errors():
    frame, _ = make_env("cartpole", seed=0).reset()
    assert frame.shape == (64, 64, 1) and frame.max() == 255
    with pytest.raises(ConfigError, match="taus"):
        SPACE.resolve("quick", {"taus": "0.5,hot"})
    with pytest.raises(ConfigError, match="taus"):
        SPACE.resolve("quick", {"taus": "0"})
    with pytest.raises(ConfigError, match="doom_skill"):
        SPACE.resolve("quick", {"doom_skill": 6})
    if importlib.util.find_spec("Box2D") is None:
        with pytest.raises(ConfigError, match="box2d"):
            make_env("carracing", seed=0)


class TemperatureSlider(LocalContext):
    """Simulates a visitor moving the temperature slider right after the first CMA-ES generation."""

    def log(self, step: int, **scalars: float) -> None:
        super().log(step, **scalars)
        if "fitness_best" in scalars:
            self.params["temperature"] = 0.37


def test_the_tutorial_game_and_live_temperature_reaching_the_next_cma_generation():
    _, ctx = run(TUTORIAL | {"cma_generations": 3, "death_rule": "sample"}, context=TemperatureSlider)  # dreams end
    used = [value for _, value in ctx.metrics["cma_temperature"]]
    assert used[0] == SPACE["temperature"].default and used[1:] == pytest.approx([0.37, 0.37])
    assert ctx.metrics["temperature"][-1][1] == pytest.approx(0.37)  # C was scored in the dream it last saw


def test_stop_ends_the_run_cleanly():
    summary, ctx = run(TUTORIAL, stop_after_polls=5)  # during the first collection
    assert summary == {"stopped": 1.0}
    assert ctx.polls == 6 and not ctx.metrics and not ctx.checkpoints


def test_carracing_frames_are_64x64_rgb():
    pytest.importorskip("Box2D", reason="gymnasium[box2d] is in requirements.txt; this machine lacks it")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    env = make_env("carracing", seed=0)
    frame, _ = env.reset(seed=0)
    after, *_ = env.step(np.array([0.0, 1.0, 0.0], dtype=np.float32))
    assert frame.shape == after.shape == (64, 64, 3) and frame.dtype == np.uint8
    env.close()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_device_auto_falls_back_to_the_cpu_and_cuda_without_a_gpu_says_so():
    from engine.labs.world_models.stages import device_of

    auto, cpu = SPACE.typed({"device": "auto"}), SPACE.typed({"device": "cpu"})
    assert device_of(auto).type == "cpu" and device_of(cpu).type == "cpu"
    with pytest.raises(ConfigError, match="device cuda: torch finds no CUDA GPU"):
        run({"device": "cuda"})


class CountingContext(LocalContext):
    """A LocalContext that also notes, at each checkpoint, how many points every metric series had by then."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counts: list[dict[str, int]] = []

    def checkpoint(self, state, step=None, stage=""):
        super().checkpoint(state, step, stage)
        self.counts.append({name: len(series) for name, series in self.metrics.items()})


@pytest.mark.slow
@pytest.mark.parametrize("world_run", [0, 7])
def test_a_run_resumed_in_c_ends_exactly_as_if_never_interrupted(doom_run, world_run):
    """Stopped partway through CMA-ES and resumed from a checkpoint taken before: V and M are not trained again,
    the search continues (replayed from its fitnesses), and the figures and charts match the uninterrupted run."""
    from engine.context import ResumePoint

    config = SPACE.resolve("quick", TINY | {"cma_generations": 5, "world_run": world_run})
    runs = {7: doom_run[1].checkpoints[-1]}
    whole = LocalContext(config, runs=runs)
    expected = train(config, whole)
    first = CountingContext(config, stop_after_polls=whole.polls - 40, checkpoint_seconds=0, runs=runs)
    assert train(config, first)["stopped"] == 1.0
    marks = [i for i, record in enumerate(first.checkpoints) if "resume" in record]
    index = marks[len(marks) // 2]
    point = ResumePoint.of(first.checkpoints[index], lab="")
    assert point.stage == "C" and 0 < point.step < 5
    second = LocalContext(config, resume=point, runs=runs)
    summary = train(config, second)
    times = ("seconds", "C_seconds")
    assert {k: v for k, v in summary.items() if not k.endswith(times)} == {
        k: v for k, v in expected.items() if not k.endswith(times)
    }
    assert "vae_loss" not in second.metrics and "mdn_loss" not in second.metrics  # V and M kept, not retrained
    for name, series in whole.metrics.items():  # the charts continue: no gap, no point twice
        before = first.metrics.get(name, [])[: first.counts[index].get(name, 0)]
        assert before + second.metrics.get(name, []) == series, name
