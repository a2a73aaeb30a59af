"""Preference data: the pair schema, readers and writers (VideoAlign CSV, JSONL, Parquet), checks."""

from vidalign.data.decodable import check_decodable
from vidalign.data.errors import PairDataError, PairDataWarning, RowIssue
from vidalign.data.load import load_pairs
from vidalign.data.pair import INT_TO_LABEL, LABEL_TO_INT, OVERALL, PreferencePair
from vidalign.data.save import save_pairs
from vidalign.data.stats import pair_stats

__all__ = [
    "INT_TO_LABEL",
    "LABEL_TO_INT",
    "OVERALL",
    "PairDataError",
    "PairDataWarning",
    "PreferencePair",
    "RowIssue",
    "check_decodable",
    "load_pairs",
    "pair_stats",
    "save_pairs",
]
