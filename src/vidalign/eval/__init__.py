"""Evaluation: reward accuracy with and without ties, win rates, sample diversity, reward-hacking
monitoring, baselines, score caching, reports."""

from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties
from vidalign.eval.baselines import RandomScorer
from vidalign.eval.hacking import HackingMonitor, RewardHackingWarning
from vidalign.eval.prompt_sets import read_prompt_set
from vidalign.eval.reward_eval import DimResult, RewardEvalResult, evaluate_pairs
from vidalign.eval.reward_report import accuracy_table, write_report
from vidalign.eval.score_cache import ScoreTable, ScoringError, Skipped, pair_items, score_items
from vidalign.eval.scorer import (
    OVERALL,
    Ceiling,
    EvalError,
    Scorer,
    resolve_weights,
    weighted_overall,
)
from vidalign.eval.winrate import WinRateResult, win_rates

__all__ = [
    "OVERALL",
    "Ceiling",
    "DimResult",
    "EvalError",
    "HackingMonitor",
    "RandomScorer",
    "RewardEvalResult",
    "RewardHackingWarning",
    "ScoreTable",
    "Scorer",
    "ScoringError",
    "Skipped",
    "WinRateResult",
    "accuracy_table",
    "accuracy_with_ties",
    "accuracy_without_ties",
    "evaluate_pairs",
    "pair_items",
    "read_prompt_set",
    "resolve_weights",
    "score_items",
    "weighted_overall",
    "win_rates",
    "write_report",
]
