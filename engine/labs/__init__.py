"""The labs, one package each, and this registry: the one list of labs (name, title, icon, page, url).

Each lab: a ParamSpace (engine/labs/<lab>/config.py, torch-free; declared as a typed, frozen Config, see
engine/params.py) and a trainer module with `train(config, ctx) -> dict` and `bench(config, ctx) -> dict` (config: the
stored dict, which the trainer reads as its typed Config), imported lazily (torch is heavy): reading a lab's
`space` imports no torch (tests/labs/test_labs.py).

A lab imports only engine.params, engine.context and its own package (numpy, torch, gymnasium); never the
runtime, ui/ or tools/. The runtime, ui/, engine.cli, tools/ and app.py import the labs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from engine.params import ConfigError, ParamSpace

WORKER_MB = 450  # a worker with torch imported, before the lab's own data (measured: ~350 MB resident)


@dataclass(frozen=True)
class Lab:
    name: str
    title: str
    idea: str
    config_module: str
    trainer_module: str
    icon: str  # the app's navigation icon (a Material Symbols name)
    sweep_link: str = ""  # the parameter through which a sweep's jobs refer to the run they start from
    paper: str = ""  # the paper the lab shows, as a markdown link
    headline: str = ""  # the metric that says how a run is doing (the Runs page opens on it)

    @property
    def page(self) -> str:
        """The lab's Streamlit page, relative to the repository root."""
        return f"app_pages/{self.name}.py"

    @property
    def url(self) -> str:
        """The page's url path: the lab's name."""
        return self.name

    @property
    def space(self) -> ParamSpace:
        return importlib.import_module(self.config_module).SPACE

    def memory_mb(self, config: dict) -> float:
        """A worker's expected peak memory for this config: the lab's own estimate of its data, if it has one
        (`data_memory_mb(config)` in its config module), on top of torch's."""
        estimate = getattr(importlib.import_module(self.config_module), "data_memory_mb", None)
        return WORKER_MB + (estimate(config) if estimate else 0.0)

    def train_fn(self) -> Callable:
        return importlib.import_module(self.trainer_module).train

    def bench_fn(self) -> Callable:
        return importlib.import_module(self.trainer_module).bench


LABS: dict[str, Lab] = {
    lab.name: lab
    for lab in [
        Lab(
            name="meta_rl",
            title="Learning to reinforcement learn",
            idea="An LSTM fed its last action and reward, trained over many bandits, then frozen: "
            "its activations now run an exploration algorithm of their own.",
            config_module="engine.labs.meta_rl.config",
            headline="eval_regret",
            trainer_module="engine.labs.meta_rl.train",
            icon=":material/casino:",
            paper="[Wang et al. 2016, *Learning to reinforcement learn*](https://arxiv.org/abs/1611.05763)",
        ),
        Lab(
            name="world_models",
            title="World Models",
            idea="A VAE and an MDN-RNN learn a game from pixels; a controller is trained entirely inside their "
            "dream, with a temperature that keeps it from exploiting the dream's mistakes.",
            config_module="engine.labs.world_models.config",
            headline="held_out",
            trainer_module="engine.labs.world_models.train",
            icon=":material/cloud:",
            sweep_link="world_run",
            paper="[Ha & Schmidhuber 2018, *World Models*](https://arxiv.org/abs/1803.10122)",
        ),
        Lab(
            name="tdm",
            title="Temporal Difference Models",
            idea="A goal-conditioned Q-function with a horizon τ learns how close a point mass can get to any goal "
            "in τ steps: watch its reachability heatmaps grow around the walls, checked against the exact answer.",
            config_module="engine.labs.tdm.config",
            headline="tdm_success",
            trainer_module="engine.labs.tdm.train",
            icon=":material/radar:",
            paper="[Pong, Gu, Dalal & Levine 2018, *Temporal Difference Models*](https://arxiv.org/abs/1802.09081)",
        ),
        Lab(
            name="tournament",
            title="Expert tournament",
            idea="Experts compete to undo hidden transformations of digits; a discriminator judges and only the "
            "winner learns, so each expert becomes the inverse of one independent mechanism.",
            config_module="engine.labs.tournament.config",
            headline="owned",
            trainer_module="engine.labs.tournament.train",
            icon=":material/emoji_events:",
            paper="[Parascandolo et al. 2018, *Learning Independent Causal Mechanisms*](https://arxiv.org/abs/1712.00961)",
        ),
    ]
}


def get_lab(name: str) -> Lab:
    if name not in LABS:
        raise ConfigError(f"unknown lab {name!r}; known: {', '.join(LABS)}")
    return LABS[name]
