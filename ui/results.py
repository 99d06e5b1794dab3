"""What each lab measured over seeds, read from the file bundled beside its checkpoints, never copied into prose.

`engine/labs/<lab>/bundled_seeds.json` is the JSON of `python -m engine bench <lab> --preset quick --seeds 5 --json`
as it is (`per_seed`, `mean`, `se`). A page shows its figures, each as the mean ± standard error over those seeds,
with one call: `explain(page_file, lab)` renders the page's notes (`app_pages/<lab>.md`) with the measured figures
where the notes say `<!-- measured -->`. docs/results.md quotes the same files.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from engine.labs import get_lab
from engine.runtime.seeds import finished, statistics

SEEDS_FILE = "bundled_seeds.json"
MARK = "<!-- measured -->"  # where a page's notes take the figures measured over seeds


def seeds_path(lab: str) -> Path:
    """The lab's bench over seeds, beside its bundled checkpoints."""
    return Path(importlib.import_module(f"engine.labs.{lab}").__file__).with_name(SEEDS_FILE)


@st.cache_data(show_spinner=False)
def bundled_seeds(lab: str) -> dict[str, Any] | None:
    """The lab's bench over seeds (None where none is bundled)."""
    path = seeds_path(lab)
    return json.loads(path.read_text()) if path.exists() else None


def seed_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures of every seed that finished."""
    return [record["figures"] for record in finished(result["per_seed"])]


def over_seeds(result: dict[str, Any], figure: Callable[[dict[str, Any]], float], spec: str = ".3f") -> str:
    """One figure of each seed's bench as its mean ± standard error over the seeds (one seed: its value)."""
    mean, se = statistics([figure(figures) for figures in seed_figures(result)])
    return f"{mean:{spec}}" if se is None else f"{mean:{spec}} ± {se:{spec}}"


def per_seed(result: dict[str, Any], figure: Callable[[dict[str, Any]], float], spec: str = ".3f") -> str:
    """One figure, each seed's own value."""
    return ", ".join(f"{figure(figures):{spec}}" for figures in seed_figures(result))


def bench_line(result: dict[str, Any]) -> str:
    """How the figures were made: the command, with the values it set beyond its preset, and its seeds."""
    done = finished(result["per_seed"])
    preset = result["preset"]
    defaults = get_lab(result["lab"]).space.resolve(preset, {})
    sets = [f"--set {k}={v}" for k, v in done[0]["config"].items() if k != "seed" and defaults.get(k) != v]
    command = " ".join(["python -m engine bench", result["lab"], *(["--preset", preset] if preset else []), *sets])
    seeds = named([record["seed"] for record in done])
    return f"`{command} --seeds {len(result['seeds'])}`: mean ± standard error over seeds {seeds}, a process each"


def named(seeds: list[int]) -> str:
    """0–4 for a run of seeds, else the list."""
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def regret(task: str, method: str) -> Callable[[dict[str, Any]], float]:
    """A seed's regret after the last pull, of one method on one task."""
    return lambda figures: figures["tasks"][task]["regret"][method]["mean"]


def to_bayes(task: str) -> Callable[[dict[str, Any]], float]:
    """A seed's agent ÷ Bayes-optimal regret on one task."""
    return lambda figures: regret(task, "agent")(figures) / regret(task, "bayes")(figures)


def meta_rl_figures(result: dict[str, Any]) -> str:
    """Regret after the last pull per task: the frozen agent, the Bayes-optimal floor, their ratio, the baselines."""
    config = finished(result["per_seed"])[0]["config"]
    tasks = list(result["mean"]["tasks"])
    lines = [
        f"Measured here ({bench_line(result)}; regret after {config['pulls']} pulls on "
        f"{config['eval_episodes']:,} held-out bandits, each seed its own, every method on the same bandits within a "
        "seed):",
        "",
        "| task | frozen agent | Bayes-optimal | agent ÷ Bayes | Thompson | greedy | UCB1 | random |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task in tasks:
        baselines = [over_seeds(result, regret(task, m), ".2f") for m in ("thompson", "greedy", "ucb1", "random")]
        lines.append(
            f"| {task} | **{over_seeds(result, regret(task, 'agent'))}** | "
            f"{over_seeds(result, regret(task, 'bayes'))} | **{over_seeds(result, to_bayes(task))}** | "
            f"{' | '.join(baselines)} |"
        )
    agent = "; ".join(f"{task} {per_seed(result, regret(task, 'agent'))}" for task in tasks)
    seconds = ", ".join(f"{result['mean']['tasks'][task]['train_seconds']:.0f} s ({task})" for task in tasks)
    lines += ["", f"The agent per seed: {agent}. Training took {seconds} on one core."]
    return "\n".join(lines)


def shared_mechanisms(per_mechanism: dict[str, dict[str, Any]]) -> str:
    """The mechanisms one expert won together (S+SE), or 'none'."""
    by_winner: dict[int, list[str]] = {}
    for mechanism, scores in per_mechanism.items():
        by_winner.setdefault(scores["winner"], []).append(mechanism)
    shared = ["+".join(names) for names in by_winner.values() if len(names) > 1]
    return ", ".join(shared) or "none"


def tournament_figures(result: dict[str, Any]) -> str:
    """Mechanisms owned by distinct experts on test digits and held-out classes; the winners' error."""
    mechanisms = len(result["mean"]["test"]["per_mechanism"])
    owned = {
        split: over_seeds(result, lambda f, split=split: f[split]["mechanisms_owned_by_distinct_experts"], ".2f")
        for split in ("test", "held_out_classes")
    }
    each = per_seed(result, lambda f: f["test"]["mechanisms_owned_by_distinct_experts"], "d")
    shared = "; ".join(shared_mechanisms(figures["test"]["per_mechanism"]) for figures in seed_figures(result))
    return (
        f"Measured here ({bench_line(result)}, the paper's rules): **{owned['test']} of {mechanisms}** mechanisms "
        f"owned by distinct experts on test digits ({each} per seed), {owned['held_out_classes']} on the held-out "
        f"classes. Won together by one expert, per seed: {shared}. The winners' error against the clean digit is "
        f"{over_seeds(result, lambda f: f['test']['mean_winner_error'], '.4f')} against "
        f"{over_seeds(result, lambda f: f['test']['mean_identity_error'], '.4f')} for doing nothing."
    )


def iou_at_worst_tau(layout: str, heatmap: str) -> Callable[[dict[str, Any]], float]:
    """A seed's heatmap IoU with the exact reachable set at its worst horizon: `heatmap` the mean over the layout's
    starts, `heatmap_worst_start` the start where the walls are most in the way."""
    return lambda figures: min(iou for iou in figures["layouts"][layout][heatmap]["iou"] if iou is not None)


def tdm_figures(result: dict[str, Any]) -> str:
    """Per layout: the heatmap's IoU at the worst τ (mean over the starts, and the worst start), success at the end,
    env steps to the success mark."""
    config = finished(result["per_seed"])[0]["config"]
    parts = []
    for layout in result["mean"]["layouts"]:
        iou = over_seeds(result, iou_at_worst_tau(layout, "heatmap"))
        worst = over_seeds(result, iou_at_worst_tau(layout, "heatmap_worst_start"))
        each = per_seed(result, iou_at_worst_tau(layout, "heatmap"))
        success = over_seeds(result, lambda f, layout=layout: f["layouts"][layout]["success"]["tdm"], ".1%")
        steps = [f["layouts"][layout]["steps_to_success_mark"]["tdm"] for f in seed_figures(result)]
        passed = [s for s in steps if s is not None]
        mark = (
            f"{config['success_mark']:.0%} after {min(passed):,}–{max(passed):,} env steps"
            if len(passed) == len(steps)
            else f"{config['success_mark']:.0%} passed by {len(passed)} of {len(steps)} seeds"
        )
        parts.append(
            f"{layout}: IoU at the worst τ **{iou}** over the starts ({each} per seed), {worst} at the worst start; "
            f"goals reached at the end {success} ({mark})"
        )
    return (
        f"Measured here ({bench_line(result)}; {config['env_steps']:,} env steps, {config['updates_per_step']} "
        f"updates a step, the heatmaps scored against the exact reachable sets): " + "; ".join(parts) + "."
    )


def world_models_figures() -> str:
    """The bundled world's figures (World Models keeps its bench over seeds in its checkpoint): its probe, how
    often its dreams end, its τ table over seeds beside the random policy."""
    from engine.labs.world_models import BUNDLED_WORLD
    from engine.labs.world_models.viewer import share_at_rate  # torch: only on the page that shows them
    from ui.world_models_data import world_of

    _, _, checkpoint = world_of(BUNDLED_WORLD)
    probe, table = checkpoint["probe"]["taus"], checkpoint["tau_table"]
    viewer, seeds = checkpoint["viewer"], checkpoint["seeds"]
    order = [row["pair_order"] for row in probe]
    pairs = probe[0]["pairs"]
    agree = sum(order) / len(order)
    spread = 100 * (agree * (1 - agree) / pairs) ** 0.5  # a share's standard error
    hits = [row["probe_dream_hit"] / row["probe_real_hit"] for row in table]
    taus, ended = viewer["taus"].float().round(decimals=2).tolist(), viewer["ended"].float().tolist()
    at_real_rate = share_at_rate(float(viewer["real_rate"]), len(viewer["real"]) - 1)
    per_step = max(viewer["end_rate"].float().tolist()) / float(viewer["real_rate"])
    means = [row["real_score"] for row in seeds["mean"]["taus"]]
    random = checkpoint["random"][0]
    below = sum(max(row["real_score"] for row in one["taus"]) < random for one in seeds["per_seed"])
    first = table[0]
    return (
        "**What the bundled world measures** (the world a first visit shows: the quick preset, seed "
        f"{checkpoint['config']['seed']}). The probe: M orders {min(order):.0%}–{max(order):.0%} of the pairs of "
        f"actions as the game does at the table's temperatures ({pairs} pairs: about ±{spread:.0f} points) and "
        f"dreams a hit {min(hits):.2f}–{max(hits):.2f}× as often as the game. Its dreams end before the real hit in "
        f"{ended[0]:.0%} at τ {taus[0]:g}, {ended[taus.index(1.0)]:.0%} at τ 1 and {ended[-1]:.0%} at τ "
        f"{taus[-1]:g}, against {at_real_rate:.0%} at the real game's rate: M ends a dream at most {per_step:.2f}× as "
        f"often per step as the game did. The τ table: the τ {first['tau']:g} dream promises "
        f"{first['dream_score'] / first['real_score']:.1f}× what its controller gets in the real game; over "
        f"{len(seeds['per_seed'])} seeds the mean real score lies between {min(means):.0f} and {max(means):.0f} "
        f"across τ (the random policy: {random:.0f}; the paper: 1,092 at τ 1.15, and 750 counts as solved), and "
        f"{below} of {len(seeds['per_seed'])} seeds' controllers score below random at every τ."
    )


FIGURES = {"meta_rl": meta_rl_figures, "tournament": tournament_figures, "tdm": tdm_figures}


def measured(lab: str) -> str:
    """The lab's measured figures, in words and tables, from its bundled file (World Models: its bundled world)."""
    if lab == "world_models":
        return world_models_figures()
    result = bundled_seeds(lab)
    if result is None or not seed_figures(result):
        return f"*No bench over seeds is bundled with this lab yet (`{SEEDS_FILE}`).*"
    return FIGURES[lab](result)


def explain(page_file: str, lab: str) -> None:
    """The page's notes, with the lab's figures over seeds where they say `<!-- measured -->`."""
    notes = Path(page_file).with_suffix(".md").read_text()
    st.markdown(notes.replace(MARK, measured(lab)) if MARK in notes else notes)
