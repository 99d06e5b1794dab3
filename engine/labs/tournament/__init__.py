"""Learning independent causal mechanisms (Parascandolo et al. 2018): experts compete to undo transformed digits."""
