"""The probe "does the dream know what moving does?", and the game facts it reads: which Doom action is left."""

import numpy as np
import pytest
import torch
import vizdoom as vzd

from engine.labs.world_models.dream import build_world
from engine.labs.world_models.envs import DoomTakeCover, make_env
from engine.labs.world_models.facts import GAMES
from engine.labs.world_models.pictures import (
    LEAD_IN,
    SIDES,
    distance_ratio,
    dreamt_pictures,
    picture_distance,
    real_pictures,
    shows_fireball,
    starts_of,
    which_way,
)
from engine.labs.world_models.probe import ProbeStates, dreamt_odds, pair_order, probe_states, real_outcomes
from engine.labs.world_models.rollouts import Episode, mirrored
from engine.labs.world_models.vae import to_uint8


def test_doom_left_and_right_move_the_player_to_its_left_and_right():
    env = DoomTakeCover()
    game = env.game.unwrapped.game
    moved = {}
    for name, action in GAMES["doom"].actions.items():
        env.reset(seed=3)
        assert game.get_game_variable(vzd.GameVariable.ANGLE) == 0  # facing east (+x): its left is north (+y)
        start = game.get_game_variable(vzd.GameVariable.POSITION_Y)
        for _ in range(10):
            env.step(action)
        moved[name] = game.get_game_variable(vzd.GameVariable.POSITION_Y) - start
    env.close()
    assert moved["left"] > 0 > moved["right"] and moved["still"] == 0
    assert GAMES["doom"].axis_actions() == (GAMES["doom"].actions["left"], 0, GAMES["doom"].actions["right"])


def test_the_real_game_replayed_to_a_probe_state_holds_what_the_episode_held():
    """Where an episode held one action for the probe's horizon, holding it again from the replayed state meets the
    hits the episode met (ViZDoom is seeded and deterministic)."""
    make = lambda seed: make_env("doom", seed)  # noqa: E731
    horizon = 15
    states = probe_states(
        make, GAMES and make_env("doom", 0).action_space, 3, 50, seed=5, lead=10, poll=lambda: None, slots=3
    )
    checked = 0
    for s, (index, at) in enumerate(zip(states.episode, states.step, strict=True)):
        episode = states.episodes[index]
        ahead = episode.actions[at : at + horizon]
        if len(ahead) < horizon or len(set(ahead.tolist())) != 1:
            continue
        name = next(n for n, a in GAMES["doom"].actions.items() if a == ahead[0])
        one = ProbeStates(
            states.episodes, states.seeds, states.episode[s : s + 1], states.step[s : s + 1], states.near_hit[s : s + 1]
        )
        real = real_outcomes(make, one, GAMES["doom"].actions, [name], horizon, lambda: None)
        met = bool((episode.damage[at : at + horizon] > 0).any()) or (
            episode.terminated and at + horizon >= len(episode)
        )
        assert real[0, 0] == met
        checked += 1
    assert checked > 0


def hand_made_world(reads_actions: bool):
    """A tiny Doom-shaped world whose M calls a hit certain under "still" (reads_actions) or ignores actions."""
    world = build_world(
        3,
        z_size=2,
        vae_width=0.0625,
        rnn_hidden=2,
        mdn_components=1,
        action_space=make_env("take_cover", 0).action_space,
        death_weight=1.0,
    )
    rnn = world.rnn
    with torch.no_grad():
        for parameter in rnn.parameters():
            parameter.zero_()
        if reads_actions:  # still (action 1 here) drives the cell up, the head reads it as a hit
            still = 2 + GAMES["take_cover"].actions["still"]  # the LSTM reads [z (2), action one-hot (3)]
            hidden = rnn.hidden
            rnn.lstm.weight_ih_l0[0:hidden, still] = 10.0  # input gate open
            rnn.lstm.weight_ih_l0[2 * hidden : 3 * hidden, still] = 10.0  # candidate +1
            rnn.lstm.weight_ih_l0[3 * hidden :, still] = 10.0  # output gate open
        rnn.head.weight[-1] = 10.0 if reads_actions else 0.0
        rnn.head.bias[-1] = -5.0
    return world


@pytest.mark.parametrize("reads_actions", [False, True])
def test_an_m_that_ignores_actions_orders_pairs_at_chance_and_one_that_reads_them_does_not(reads_actions):
    world = hand_made_world(reads_actions)
    frames = np.zeros((11, 64, 64, 3), np.uint8)
    left = GAMES["take_cover"].actions["left"]  # the episode so far moved left: M's memory starts calm
    episode = Episode(frames, np.full(10, left), np.ones(10, np.float32), False, np.zeros(10, np.float32))
    states = ProbeStates([episode], np.array([0]), np.zeros(4, np.int64), np.array([2, 4, 6, 8]), np.zeros(4, bool))
    actions = GAMES["take_cover"].actions
    names = list(actions)
    real = np.zeros((4, 3), bool)
    real[:, names.index("still")] = True  # reality: standing still gets you hit, moving does not
    odds = dreamt_odds(world, states, actions, names, horizon=5, taus=[1.0], dreams=4, seed=0)[0]
    share, pairs = pair_order(real, odds)
    assert pairs == 8
    if reads_actions:
        moving = [names.index("left"), names.index("right")]
        assert share == 1.0 and odds[:, names.index("still")].min() > 0.9 and odds[:, moving].max() < 0.1
    else:
        assert share == 0.5 and np.ptp(odds) == 0  # every behaviour alike: each pair a tie


@pytest.mark.parametrize("env", ["doom", "take_cover", "cartpole"])
def test_a_mirrored_episode_flips_its_frames_and_swaps_left_and_right(env):
    game = GAMES[env]
    names = {action: name for name, action in game.actions.items()}
    for name, action in game.actions.items():  # left <-> right, still stays, and twice is the identity
        assert names[game.mirrored[action]] == name.replace("left", "?").replace("right", "left").replace("?", "right")
        assert game.mirrored[game.mirrored[action]] == action
    frames = np.random.default_rng(0).integers(0, 255, (4, 64, 64, game.channels), dtype=np.uint8)
    actions = np.array(list(game.actions.values()) * 2)[:3]
    episode = Episode(frames, actions, np.ones(3, np.float32), True, np.array([0, 5, 0], np.float32))
    mirror = mirrored(episode, game.mirrored)
    assert np.array_equal(mirror.frames[:, :, 0], frames[:, :, -1]) and np.array_equal(
        mirror.frames[:, :, ::-1], frames
    )
    assert [names[a] for a in mirror.actions] == [names[game.mirrored[a]] for a in actions]
    assert mirror.terminated and mirror.damage.tolist() == [0, 5, 0]


# ---------------------------------------------------------------------------------------------- the second probe


def steering_world(reads_actions: bool):
    """A tiny Doom-shaped world whose M dreams z0 up under "left" and down under "right" (reads_actions), or
    dreams the same whatever is pressed."""
    world = build_world(
        3, z_size=2, vae_width=0.0625, rnn_hidden=2, mdn_components=1, action_space=make_env("doom", 0).action_space
    )
    rnn, hidden = world.rnn, world.rnn.hidden
    with torch.no_grad():
        for parameter in rnn.parameters():
            parameter.zero_()
        for name, sign in (("left", 1.0), ("right", -1.0)):
            column = 2 + GAMES["doom"].actions[name]  # the LSTM reads [z (2), action one-hot (3)]
            rnn.lstm.weight_ih_l0[0:hidden, column] = 10.0  # input gate open
            rnn.lstm.weight_ih_l0[2 * hidden, column] = 10.0 * sign  # candidate of unit 0: +1 left, -1 right
            rnn.lstm.weight_ih_l0[3 * hidden :, column] = 10.0  # output gate open
        rnn.head.weight[2, 0] = 5.0 if reads_actions else 0.0  # mu of z0 (one component) reads unit 0
        rnn.head.bias[4:6] = -3.0  # log sigma: crisp dreams
    return world


@pytest.mark.parametrize("reads_actions", [False, True])
def test_an_m_that_ignores_actions_dreams_left_and_right_alike_and_one_that_reads_them_shows_which_way(reads_actions):
    world = steering_world(reads_actions)
    frames = np.zeros((11, 64, 64, 3), np.uint8)
    episode = Episode(frames, np.zeros(10, np.int64), np.ones(10, np.float32), False, np.zeros(10, np.float32))
    starts = ProbeStates([episode], np.array([0]), np.zeros(3, np.int64), np.array([2, 4, 6]), np.zeros(3, bool))
    sides = [GAMES["doom"].actions[name] for name in SIDES]
    with torch.no_grad():  # the game, as this world's V draws it: left ends at z0 = +3.8, right at -3.8
        game = to_uint8(world.vae.decode(torch.tensor([[3.8, 0.0], [-3.8, 0.0]]))).numpy()
    real = np.repeat(game[None], 3, 0)
    dreamt = dreamt_pictures(world, starts, sides, steps=5, tau=0.1, seed=0)
    if reads_actions:
        assert which_way(real, dreamt) == 1.0 and distance_ratio(real, dreamt) > 0.5
    else:  # both sides on the same noise: the same picture, nearer one side's game picture for both
        assert np.array_equal(dreamt[:, 0], dreamt[:, 1])
        assert which_way(real, dreamt) == 0.5 and distance_ratio(real, dreamt) == 0.0


def test_which_way_and_the_distance_ratio_on_drawn_pictures():
    left, right = np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8)
    left[:, :32], right[:, 32:] = 200, 200  # the wall comes into view on the side you moved to
    real = np.stack([np.stack([left, right])] * 4)
    assert which_way(real, real) == 1.0 and distance_ratio(real, real) == 1.0
    assert which_way(real, real[:, ::-1]) == 0.0  # the dream shows the other way
    faint = (real // 4).astype(np.uint8)  # the right way, a quarter as far apart
    assert which_way(real, faint) == 1.0 and distance_ratio(real, faint) == pytest.approx(0.25, abs=0.01)


def test_a_fireball_is_a_few_yellow_pixels_and_the_room_has_none():
    room = np.full((2, 64, 64, 3), (90, 80, 70), np.uint8)
    assert not shows_fireball(room).any()
    room[1, 30:32, 40] = (230, 200, 60)
    assert shows_fireball(room).tolist() == [False, True]


def test_the_game_shows_where_you_went_left_and_right_from_the_same_replayed_start():
    make = lambda seed: make_env("doom", seed)  # noqa: E731
    states = probe_states(make, make_env("doom", 0).action_space, 2, 30, seed=3, lead=10, poll=lambda: None, slots=2)
    starts = starts_of(states, LEAD_IN)
    sides = [GAMES["doom"].actions[name] for name in SIDES]
    real = real_pictures(make, starts, sides, steps=25, poll=lambda: None)
    again = real_pictures(make, starts, sides, steps=25, poll=lambda: None)
    assert real.shape == (len(starts.step), 2, 64, 64, 3) and np.array_equal(real, again)  # replayed exactly
    assert (picture_distance(real[:, 0], real[:, 1]) > 2).all()  # 25 steps apart, the room looks different
