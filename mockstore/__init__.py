"""The mock store: renders labelled store recordings (videos, weight logs, truth) from a scenario or a seed."""
