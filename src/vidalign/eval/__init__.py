"""Evaluation: reward accuracy with and without ties, win rates, oracle metrics, reports."""

from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties

__all__ = ["accuracy_with_ties", "accuracy_without_ties"]
