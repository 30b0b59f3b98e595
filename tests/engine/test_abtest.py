"""The A/B comparison against values worked out by hand (two-proportion z-test, pooled, two-sided)."""

from __future__ import annotations

import pytest

from qunflow.engine.abtest import compare, split_results, words


def test_a_clear_win_worked_by_hand() -> None:
    # a: 100 of 1,000 (10%); b: 131 of 1,000 (13.1%). Pooled 231/2,000 = 0.1155;
    # spread √(0.1155 × 0.8845 × (1/1000 + 1/1000)) = √0.0002043195 = 0.0142940;
    # z = 0.031 / 0.0142940 = 2.16874; confidence 2Φ(2.16874) − 1 = 0.96990.
    verdict = compare("a", 100, 1000, "b", 131, 1000)
    assert verdict.difference == pytest.approx(3.1)
    assert verdict.z == pytest.approx(2.16874, abs=1e-5)
    assert verdict.confidence == pytest.approx(0.96990, abs=1e-5)
    assert verdict.outcome == "better"
    assert words(verdict) == {
        "zh": "b 转化率比 a 高 3.1 个百分点，置信度 96%",
        "en": "b converts 3.1 percentage points better than a (96% confidence)",
    }


def test_the_same_gap_the_other_way_is_a_loss() -> None:
    verdict = compare("a", 131, 1000, "b", 100, 1000)
    assert verdict.outcome == "worse"
    assert words(verdict)["zh"] == "b 转化率比 a 低 3.1 个百分点，置信度 96%"


def test_a_gap_that_is_not_significant_says_keep_watching() -> None:
    # a: 50 of 500 (10%); b: 58 of 500 (11.6%). Pooled 0.108; spread √(0.108 × 0.892 × 0.004)
    # = 0.0196302; z = 0.016 / 0.0196302 = 0.81507; confidence 2Φ(0.81507) − 1 = 0.58497.
    verdict = compare("a", 50, 500, "b", 58, 500)
    assert verdict.confidence == pytest.approx(0.58497, abs=1e-5)
    assert verdict.outcome == "unclear"
    assert words(verdict) == {
        "zh": "b 与 a 差异不显著（置信度 58%），继续观察",
        "en": "No clear difference between b and a yet (58% confidence); keep watching",
    }


def test_just_under_95_percent_is_not_called() -> None:
    # 200 and 238 of 2,000: z = 1.9251, confidence 94.57%, shown rounded down, and not a win;
    # one more buyer in b gives 95.15%, a win.
    verdict = compare("a", 200, 2000, "b", 238, 2000)
    assert 0.94 < verdict.confidence < 0.95
    assert verdict.outcome == "unclear"
    assert "置信度 94%" in words(verdict)["zh"]
    assert compare("a", 200, 2000, "b", 239, 2000).outcome == "better"


@pytest.mark.parametrize(
    ("a", "b"),
    [((3, 20), (8, 20)), ((0, 1000), (0, 1000)), ((1, 100), (3, 100)), ((0, 0), (5, 50))],
)
def test_too_few_members_or_conversions_give_no_verdict(a: tuple[int, int], b: tuple[int, int]) -> None:
    verdict = compare("a", *a, "b", *b)
    assert verdict.outcome == "too_small"
    assert verdict.confidence is None
    said = words(verdict, {"a": a[1], "b": b[1]})
    assert said["zh"] == f"样本太少（a {a[1]} 人，b {b[1]} 人），暂无结论，继续观察"
    assert said["en"] == f"Too few members so far (a {a[1]}, b {b[1]}) to tell; keep watching"


def test_every_branch_of_a_split_is_compared_with_its_first() -> None:
    results = split_results(
        {
            "ab:a": {"entered": 1000, "converted": 100},
            "ab:b": {"entered": 1000, "converted": 131},
            "ab:c": {"entered": 20, "converted": 2},
        }
    )
    assert [(r["node"], r["control"], r["variant"], r["outcome"]) for r in results] == [
        ("ab", "a", "b", "better"),
        ("ab", "a", "c", "too_small"),
    ]
