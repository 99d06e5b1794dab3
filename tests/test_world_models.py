import importlib.util
import io
import math

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from engine.labs.world_models.config import SPACE
from engine.labs.world_models.dream import DreamSession, DreamState, build_world, load_world, redream, step
from engine.labs.world_models.envs import TakeCoverEnv, make_env
from engine.labs.world_models.mdn_rnn import MDNRNN, Prediction, mdn_loss, sample_mdn
from engine.labs.world_models.train import train
from engine.labs.world_models.vae import ConvVAE, vae_loss
from engine.params import ConfigError
from engine.runtime.context import LocalContext

TINY = {"rounds": 2, "rollouts": 6, "rollout_steps": 40, "z_size": 4, "vae_width": 0.125, "vae_epochs": 1,
        "rnn_hidden": 8, "rnn_epochs": 2, "cma_generations": 3, "cma_popsize": 4, "dream_episodes": 2,
        "dream_length": 30, "real_eval_episodes": 2}


def run(overrides: dict | None = None, context: type[LocalContext] = LocalContext, **ctx_options):
    config = SPACE.resolve("quick", TINY | (overrides or {}))
    ctx = context(config, **ctx_options)
    return train(config, ctx), ctx


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


def test_mdn_rnn_shapes_and_single_gaussian_likelihood():
    rnn = MDNRNN(z_size=6, action_size=3, hidden=16, components=5)
    prediction, hidden, (h, c) = rnn(torch.randn(2, 7, 6), torch.randn(2, 7, 3))
    assert prediction.logits.shape == prediction.mu.shape == prediction.log_sigma.shape == (2, 7, 6, 5)
    assert prediction.reward.shape == prediction.done_logit.shape == (2, 7)
    assert hidden.shape == (2, 7, 16) and h.shape == c.shape == (1, 2, 16)

    z = torch.randn(2, 7, 6)  # one standard normal component: the loss is the Gaussian negative log-likelihood
    standard = Prediction(torch.zeros(2, 7, 6, 1), torch.zeros(2, 7, 6, 1), torch.zeros(2, 7, 6, 1),
                          torch.zeros(2, 7), torch.zeros(2, 7))
    expected = (0.5 * z.pow(2) + 0.5 * math.log(2 * math.pi)).mean()
    assert mdn_loss(standard, z, torch.ones(2, 7)).item() == pytest.approx(expected.item(), rel=1e-5)


def mixture(logits: list[float], mu: list[float], sigma: float, n: int = 20_000) -> Prediction:
    k = len(logits)
    return Prediction(torch.tensor(logits).expand(n, 1, k), torch.tensor(mu).expand(n, 1, k),
                      torch.full((n, 1, k), math.log(sigma)), torch.zeros(n), torch.zeros(n))


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 2.0])
def test_temperature_scales_the_variance_of_a_single_gaussian(tau):
    generator = torch.Generator().manual_seed(0)
    samples = sample_mdn(mixture([0.0], [3.0], sigma=2.0), tau, generator)
    assert samples.mean().item() == pytest.approx(3.0, abs=0.05)
    assert samples.var().item() == pytest.approx(4.0 * tau, rel=0.05)


def test_low_temperature_sharpens_the_mixture_weights():
    generator = torch.Generator().manual_seed(0)
    picked_second = {}
    for tau in (0.1, 1.0, 3.0):
        samples = sample_mdn(mixture([0.0, 1.0], [-10.0, 10.0], sigma=0.1), tau, generator)
        picked_second[tau] = (samples > 0).float().mean().item()
    assert picked_second[0.1] > 0.999  # softmax([0, 10]) ~ all mass on the likelier component
    assert picked_second[1.0] == pytest.approx(1 / (1 + math.exp(-1)), abs=0.02)  # the model's own weights
    assert picked_second[3.0] == pytest.approx(1 / (1 + math.exp(-1 / 3)), abs=0.02)  # flatter


def test_dream_ends_with_the_probability_m_gives_undoing_the_done_weight():
    config = SPACE.resolve("quick", TINY | {"done_weight": 10.0})
    world = build_world(config, 1, make_env("take_cover", 0).action_space)
    head = world.rnn.head
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    head.bias.data[-1] = math.log(10.0) + math.log(0.2 / 0.8)  # weighted odds 10x the true P(done) = 0.2
    generator = torch.Generator().manual_seed(0)
    state = DreamState.start(world, torch.zeros(20_000, 4))
    state, done_probability = step(world, state, torch.ones(20_000, dtype=torch.long), 1.0, generator)
    assert done_probability[0].item() == pytest.approx(0.2, abs=1e-5)
    assert 1 - state.alive.float().mean().item() == pytest.approx(0.2, abs=0.01)


def test_take_cover_env_passes_the_gymnasium_checker_and_random_play_dies():
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
    if importlib.util.find_spec("Box2D") is None:
        with pytest.raises(ConfigError, match="box2d"):
            make_env("carracing", seed=0)


def test_end_to_end_through_every_stage_with_documented_formats():
    summary, ctx = run()
    assert summary["stopped"] == 0.0 and summary["rounds_done"] == 2.0
    assert {"vae_loss", "recon_loss", "kl", "rnn_loss", "mdn_loss", "done_loss", "reward_loss", "fitness_best",
            "fitness_mean", "fitness_worst", "cma_temperature", "cma_sigma", "real_score", "real_score_std",
            "dream_score"} <= set(ctx.metrics)
    assert [step for step, _ in ctx.metrics["vae_loss"]] == [1, 2]
    assert [step for step, _ in ctx.metrics["fitness_best"]] == [1, 2, 3, 4, 5, 6]
    assert [step for step, _ in ctx.metrics["real_score"]] == [1, 2]
    assert ctx.stage == "done" and ctx.fraction == 1.0

    _, recon = ctx.snapshots["recon"]
    assert {k: (v.shape, v.dtype) for k, v in recon.items()} == {
        "frames": ((8, 64, 64), np.uint8), "reconstructions": ((8, 64, 64), np.uint8)}
    _, dreamt = ctx.snapshots["dream"]
    steps = len(dreamt["done_probability"])
    assert dreamt["dream_frames"].shape == (steps + 1, 64, 64) and dreamt["dream_frames"].dtype == np.uint8
    assert dreamt["real_frames"].dtype == np.uint8 and dreamt["real_frames"].shape[1:] == (64, 64)
    assert np.all((0 <= dreamt["done_probability"]) & (dreamt["done_probability"] <= 1))
    _, cma = ctx.snapshots["cma"]
    assert cma["fitness"].shape == (4,) and np.all(np.diff(cma["fitness"]) <= 0)

    buffer = io.BytesIO()
    torch.save(ctx.checkpoints[-1], buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    assert checkpoint["round"] == 2 and checkpoint["config"]["z_size"] == 4
    world, params = load_world(checkpoint)
    assert params.shape == (world.controller.n_params,)
    again = redream(checkpoint, temperature=0.5, length=12, seed=1)
    assert again["frames"].shape[1:] == (64, 64, 1) and len(again["frames"]) == len(again["done_probability"]) + 1
    session = DreamSession(checkpoint, temperature=1.0)
    frame, reward, done_probability, over = session.step(2)
    assert math.isfinite(reward)
    assert frame.shape == (64, 64, 1) and 0 <= done_probability <= 1 and isinstance(over, bool)


class TemperatureSlider(LocalContext):
    """Simulates a visitor moving the temperature slider right after the first CMA-ES generation."""

    def log(self, step: int, **scalars: float) -> None:
        super().log(step, **scalars)
        if "fitness_best" in scalars:
            self.params["temperature"] = 0.37


def test_live_temperature_reaches_the_next_cma_generation():
    _, ctx = run({"rounds": 1}, context=TemperatureSlider)
    used = [value for _, value in ctx.metrics["cma_temperature"]]
    assert used[0] == 1.0 and used[1:] == pytest.approx([0.37, 0.37])
    assert ctx.snapshots["dream"][1]["temperature"] == pytest.approx(0.37)


def test_stop_ends_the_run_cleanly():
    summary, ctx = run(stop_after_polls=5)  # during the first collection
    assert summary == {"stopped": 1.0}
    assert ctx.polls == 6 and not ctx.metrics and not ctx.checkpoints


def test_carracing_frames_are_64x64_rgb():
    pytest.importorskip("Box2D", reason="gymnasium[box2d] is in requirements.txt; this machine lacks it")
    env = make_env("carracing", seed=0)
    frame, _ = env.reset(seed=0)
    after, *_ = env.step(np.array([0.0, 1.0, 0.0], dtype=np.float32))
    assert frame.shape == after.shape == (64, 64, 3) and frame.dtype == np.uint8
    env.close()
