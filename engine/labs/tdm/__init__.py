"""Temporal Difference Models (Pong, Gu, Dalal, Levine, ICLR 2018): goal-conditioned, horizon-aware Q-functions that
learn how close a point mass can get to any goal in τ steps, checked against the exact reachable set."""
