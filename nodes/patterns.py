"""Operator patterns (`trigger.message` with `match: regex`): RE2 syntax, matched in linear time.

A chat member chooses the text a pattern runs on, so a backtracking engine would let anyone stall the
engine with a message (`(a+)+$` against thirty `a`s takes seconds in Python's `re`). RE2 never
backtracks; what it cannot run in linear time (backreferences, lookaround) it refuses to compile,
and validation says so before the flow is published.
"""

from __future__ import annotations

from functools import lru_cache

import re2

MAX_PATTERN = 1_000


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is reported by validation, not logged by RE2
    return options


class PatternRefused(ValueError):
    """The pattern cannot be run by the linear-time engine."""


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re2._Regexp:
    """The compiled pattern, or PatternRefused with a message an operator can act on (简体中文)."""
    if len(pattern) > MAX_PATTERN:
        raise PatternRefused(f"正则表达式过长（最多 {MAX_PATTERN} 个字符）")
    try:
        return re2.compile(pattern, options=_options())
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise PatternRefused(
            f"正则表达式 `{pattern}` 无法使用：{reason}"
            "（只支持 RE2 语法，不支持反向引用 \\1 和前后断言 (?=…)）"
        ) from None


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` occurs in `text`; a refused pattern never does. The whole text is searched,
    so `$` means its end: RE2 is linear (a 2 MB message, the largest a request holds, takes about
    10 ms), so nothing needs cutting short."""
    try:
        compiled = compile_pattern(pattern)
    except PatternRefused:
        return False
    return compiled.search(text) is not None


__all__ = ["PatternRefused", "compile_pattern", "search"]
