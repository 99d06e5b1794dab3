"""Learning to reinforcement learn (Wang et al. 2016; RL^2, Duan et al. 2016): an LSTM meta-learns bandit play."""
