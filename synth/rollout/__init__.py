"""Rollouts: the thinking-with-tools loop, trajectories and user simulators."""
