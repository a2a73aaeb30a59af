"""Evaluation: reward accuracy with and without ties, baselines, score caching, reports."""

from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties
from vidalign.eval.baselines import OracleScorer, RandomScorer
from vidalign.eval.reward_eval import DimResult, RewardEvalResult, evaluate_pairs
from vidalign.eval.reward_report import accuracy_table, write_report
from vidalign.eval.score_cache import ScoreTable, ScoringError, Skipped, pair_items, score_items
from vidalign.eval.scorer import OVERALL, EvalError, Scorer, resolve_weights, weighted_overall

__all__ = [
    "OVERALL",
    "DimResult",
    "EvalError",
    "OracleScorer",
    "RandomScorer",
    "RewardEvalResult",
    "ScoreTable",
    "Scorer",
    "ScoringError",
    "Skipped",
    "accuracy_table",
    "accuracy_with_ties",
    "accuracy_without_ties",
    "evaluate_pairs",
    "pair_items",
    "resolve_weights",
    "score_items",
    "weighted_overall",
    "write_report",
]
