"""A/B results an operator can read: two branches' conversion compared by a two-proportion z-test.

Pure arithmetic in closed form (`statistics.NormalDist`), and the sentence that says it in 简体中文
and English. The confidence is two-sided (1 − p): how sure we are that the branches differ at all.
A difference is called only from 95% on; before that, or with too few members, the sentence says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

# Below these the normal approximation does not hold: each branch needs this many members, and at
# least this many of them converted and this many not (at the pooled rate).
MIN_MEMBERS = 30
MIN_EACH_WAY = 5
SIGNIFICANT = 0.95
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class Verdict:
    """Branch `variant` against branch `control`: their rates, the difference in percentage points
    (variant − control), the z statistic and the confidence (None when there are too few members),
    and what to say: `better`, `worse`, `unclear` or `too_small`."""

    control: str
    variant: str
    control_rate: float | None
    variant_rate: float | None
    difference: float | None
    z: float | None
    confidence: float | None
    outcome: str


def compare(
    control: str, control_converted: int, control_entered: int,
    variant: str, variant_converted: int, variant_entered: int,
) -> Verdict:  # fmt: skip
    """Compare two branches' conversion (pooled two-proportion z-test, two-sided)."""
    rate_a = control_converted / control_entered if control_entered else None
    rate_b = variant_converted / variant_entered if variant_entered else None
    if rate_a is None or rate_b is None:
        return Verdict(control, variant, rate_a, rate_b, None, None, None, "too_small")
    difference = (rate_b - rate_a) * 100
    pooled = (control_converted + variant_converted) / (control_entered + variant_entered)
    smallest = min(control_entered, variant_entered)
    if smallest < MIN_MEMBERS or smallest * min(pooled, 1 - pooled) < MIN_EACH_WAY:
        return Verdict(control, variant, rate_a, rate_b, difference, None, None, "too_small")
    spread = math.sqrt(pooled * (1 - pooled) * (1 / control_entered + 1 / variant_entered))
    z = (rate_b - rate_a) / spread
    confidence = 2 * _NORMAL.cdf(abs(z)) - 1
    if confidence < SIGNIFICANT:
        outcome = "unclear"
    else:
        outcome = "better" if z > 0 else "worse"
    return Verdict(control, variant, rate_a, rate_b, difference, z, confidence, outcome)


def _percent(confidence: float) -> int:
    # Rounded down, and never 100%: "95%" is shown only from 95% on, and nothing is certain.
    return min(99, math.floor(confidence * 100))


def words(verdict: Verdict, entered: Mapping[str, int] | None = None) -> dict[str, str]:
    """The verdict as a sentence, `{"zh": ..., "en": ...}`. `entered`: members per branch, named in
    the sentence when there are too few."""
    a, b = verdict.control, verdict.variant
    if verdict.outcome == "too_small":
        if entered:
            counts_zh = "，".join(f"{k} {v} 人" for k, v in entered.items())
            counts_en = ", ".join(f"{k} {v}" for k, v in entered.items())
            return {
                "zh": f"样本太少（{counts_zh}），暂无结论，继续观察",
                "en": f"Too few members so far ({counts_en}) to tell; keep watching",
            }
        return {"zh": "样本太少，暂无结论，继续观察", "en": "Too few members so far to tell; keep watching"}
    assert verdict.confidence is not None and verdict.difference is not None
    sure = _percent(verdict.confidence)
    if verdict.outcome == "unclear":
        return {
            "zh": f"{b} 与 {a} 差异不显著（置信度 {sure}%），继续观察",
            "en": f"No clear difference between {b} and {a} yet ({sure}% confidence); keep watching",
        }
    points = f"{abs(verdict.difference):.1f}"
    if verdict.outcome == "better":
        return {
            "zh": f"{b} 转化率比 {a} 高 {points} 个百分点，置信度 {sure}%",
            "en": f"{b} converts {points} percentage points better than {a} ({sure}% confidence)",
        }
    return {
        "zh": f"{b} 转化率比 {a} 低 {points} 个百分点，置信度 {sure}%",
        "en": f"{b} converts {points} percentage points worse than {a} ({sure}% confidence)",
    }


def split_results(by_branch: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    """For each split node of a flow's `by_branch` figures ({"node:port": {entered, converted}}):
    every other branch against the node's first, with its verdict and sentence."""
    nodes: dict[str, list[tuple[str, Mapping[str, int]]]] = {}
    for key, figures in by_branch.items():
        node, _, port = key.rpartition(":")
        nodes.setdefault(node, []).append((port, figures))
    found = []
    for node, branches in nodes.items():
        (first, base), *others = branches
        for port, figures in others:
            verdict = compare(
                first, base["converted"], base["entered"], port, figures["converted"], figures["entered"]
            )
            said = words(verdict, {first: base["entered"], port: figures["entered"]})
            found.append(
                {
                    "node": node,
                    "control": first,
                    "variant": port,
                    "difference": verdict.difference,
                    "confidence": verdict.confidence,
                    "outcome": verdict.outcome,
                    **said,
                }
            )
    return found


__all__ = ["MIN_MEMBERS", "SIGNIFICANT", "Verdict", "compare", "split_results", "words"]
