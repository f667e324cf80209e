"""Curves, transfer metrics, statistics and verdicts."""
