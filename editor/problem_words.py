# ruff: noqa: E501  (a table of messages reads best one rule a line)
"""The flow checker's problems in the operator's language (issue #15): every message the compiler
(and msgspec, for a setting of the wrong shape) reports, said in 简体中文 and in plain English.

The checker's `node` and `path` stay as they are; only the message is said again. Messages are matched
by their wording, most specific first; one the table does not know is shown as it is, after
"设置有误：" in Chinese, so nothing is ever hidden.
"""

from __future__ import annotations

import re
from typing import Any

from qunflow.engine.errors import Problem

# msgspec's type names, as an operator reads them.
TYPES = {
    "int": ("整数", "a whole number"),
    "float": ("数字", "a number"),
    "str": ("文字", "text"),
    "bool": ("是/否", "yes or no"),
    "array": ("列表", "a list"),
    "object": ("一组设置", "a group of settings"),
    "null": ("空", "nothing"),
    "duration": ("时长（如 P1D）", "a duration (like P1D)"),
    "datetime": ("时间", "a date and time"),
    "time": ("时刻（如 08:00）", "a time of day (like 08:00)"),
}
CODE = r"`(?P<{}>[^`]*)`"


def _code(name: str) -> str:
    return CODE.format(name)


def _type(name: str, language: str) -> str:
    found = TYPES.get(name.split(" ")[0].strip("`"))
    return found[0 if language == "zh" else 1] if found else name


# (pattern, Chinese, English): `{name}` fills from the pattern's groups; `{name:type}` says a type,
# `{name:more}` says the rest of the message again (it is a problem message itself).
RULES: list[tuple[str, str, str]] = [
    (r"not valid JSON: (?P<why>.*)", "不是有效的 JSON：{why}", "not valid JSON: {why}"),
    (rf"unknown timezone {_code('zone')}", "未知时区 {zone}", "unknown timezone {zone}"),
    (r"must be `once`, `always` or an ISO 8601 duration like `P30D`",
     "重复进入规则应为：仅一次、每次都可，或间隔时长（如 P30D）",
     "re-entry must be once, always, or a waiting time like P30D"),
    (rf"duplicate node id {_code('id')}", "节点 ID {id} 重复", "two nodes share the id {id}"),
    (rf"unknown node type {_code('type')}", "未知的节点类型 {type}", "unknown node type {type}"),
    (r"this trigger listens to no event", "这个触发器没有监听任何事件", "this trigger listens to no event"),
    (rf"edge from missing node {_code('id')}", "连线的起点节点 {id} 不存在", "a line starts at a missing node {id}"),
    (rf"edge to missing node {_code('id')}", "连线的终点节点 {id} 不存在", "a line ends at a missing node {id}"),
    (rf"{_code('id')} has no port {_code('port')} \(ports: (?P<ports>.*)\)",
     "节点 {id} 没有出口 {port}（可用出口：{ports}）", "node {id} has no exit {port} (exits: {ports})"),
    (r"a trigger cannot have incoming edges", "触发器不能有连入的线", "nothing can lead into a trigger"),
    (r"the flow loops back on itself: (?P<loop>.*)", "流程绕回了自己：{loop}", "the flow loops back on itself: {loop}"),
    (r"a flow needs at least one trigger", "流程至少需要一个触发器", "a flow needs at least one trigger"),
    (r"no trigger leads to this node", "没有触发器连到这个节点", "no trigger leads to this node"),
    (r"this node can only come directly after (?P<types>.*)", "这个节点只能紧接在 {types} 之后",
     "this node can only come directly after {types}"),
    (r"a duration longer than ten years", "时长超过十年", "a duration longer than ten years"),
    # The flow's goal (DESIGN §16).
    (r"must be a duration longer than zero", "目标的时间窗应大于零（如 P7D）",
     "the goal's window must be longer than zero (like P7D)"),
    (rf"there is no flow {_code('flow')}", "没有流程 {flow}", "there is no flow {flow}"),
    (rf"there is no content item {_code('item')}.*", "话术库中没有 {item}", "the content library has no item {item}"),
    (rf"content {_code('item')}: (?P<rest>.*)", "话术 {item}：{rest:more}", "content {item}: {rest:more}"),
    # Field paths in placeholders and conditions (engine.fields.path_problem).
    (rf"{_code('path')} is not a dotted field path", "{path} 不是字段路径（如 member.name）",
     "{path} is not a field path (like member.name)"),
    (rf"{_code('path')} starts with {_code('root')}; use member\., event\., group\. or run\.",
     "{path} 应以 member.、event.、group. 或 run. 开头", "{path} must start with member., event., group. or run."),
    (rf"{_code('path')}: unknown field; known: (?P<known>.*)", "{path} 是未知字段；可用：{known}",
     "{path} is not a known field; known: {known}"),
    (rf"{_code('path')} needs a key after {_code('field')}", "{path} 在 {field} 后面还需要一个键名",
     "{path} needs a key after {field}"),
    (rf"{_code('path')}: {_code('field')} has no fields", "{path}：{field} 没有下级字段",
     "{path}: {field} has no fields"),
    (rf"{_code('text')}: a placeholder is not closed with }}}}", "占位符 {text} 没有用 }} 结尾",
     "the placeholder {text} is not closed with }}"),
    # A setting of the wrong shape (msgspec's words).
    (rf"Object missing required field {_code('field')}", "缺少必填项 {field}", "{field} is required"),
    (rf"Object contains unknown field {_code('field')}", "不认识的设置项 {field}", "{field} is not a setting here"),
    (rf"Expected {_code('want')}, got {_code('got')}", "应为{want:type}，填的是{got:type}",
     "should be {want:type}, not {got:type}"),
    (rf"Expected {_code('want')} >= (?P<n>\S+)", "应为不小于 {n} 的{want:type}", "should be {n} or more"),
    (rf"Expected {_code('want')} <= (?P<n>\S+)", "应为不大于 {n} 的{want:type}", "should be {n} or less"),
    (rf"Expected {_code('want')} > (?P<n>\S+)", "应大于 {n}", "should be more than {n}"),
    (rf"Expected {_code('want')} < (?P<n>\S+)", "应小于 {n}", "should be less than {n}"),
    (rf"Expected {_code('want')} of length >= (?P<n>\d+)", "至少要 {n} 个字或项", "needs at least {n} characters or items"),
    (rf"Expected {_code('want')} of length <= (?P<n>\d+)", "最多 {n} 个字或项", "at most {n} characters or items"),
    (r"Expected `str` matching regex '\^\(\[01\].*", "应为时刻，如 08:00", "should be a time of day like 08:00"),
    (r"Expected `str` matching regex '\^\[A-Za-z0-9\]\[A-Za-z0-9_.*",
     "只能用字母、数字和 _ - .，并以字母或数字开头", "letters, digits and _ - . only, starting with a letter or digit"),
    (r"Expected `str` matching regex '\^\(member.*", "应为字段路径，如 member.name 或 attributes.city",
     "should be a field path like member.name or attributes.city"),
    (rf"Expected {_code('want')} matching regex (?P<regex>.*)", "格式不对（应符合 {regex}）",
     "is not in the expected form ({regex})"),
    (r"Invalid enum value (?P<value>.*)", "不是可选的值：{value}", "not one of the choices: {value}"),
    (r"Invalid ISO ?8601 duration", "时长格式不对（如 P1D、PT2H）", "not a duration (like P1D or PT2H)"),
    (r"Invalid RFC ?3339 encoded (?P<what>\w+)", "时间格式不对（如 2026-11-22T10:00:00+08:00）",
     "not a valid {what} (like 2026-11-22T10:00:00+08:00)"),
    (rf"{_code('field')} must be a positive duration", "{field} 应为大于零的时长（如 P3D）",
     "{field} must be a duration longer than zero (like P3D)"),
]  # fmt: skip
_COMPILED = [(re.compile(rf"^{pattern}$", re.S), zh, en) for pattern, zh, en in RULES]
_FIELD = re.compile(r"\{(\w+)(?::(\w+))?\}")


def say(message: str, language: str) -> str:
    """The checker's `message` in `language` (`zh` or `en`)."""
    for pattern, zh, en in _COMPILED:
        match = pattern.match(message)
        if match is None:
            continue
        values = match.groupdict()

        def fill(found: re.Match[str], values: dict[str, Any] = values) -> str:
            name, how = found.group(1), found.group(2)
            value = values.get(name) or ""
            if how == "type":
                return _type(value, language)
            if how == "more":
                return say(value, language)
            return value

        return _FIELD.sub(fill, zh if language == "zh" else en)
    return f"设置有误：{message}" if language == "zh" else message


def known(message: str) -> bool:
    """Whether the table has words for `message` (a test walks the checker's messages with it)."""
    return any(pattern.match(message) for pattern, _, _ in _COMPILED)


def problem_words(problem: Problem) -> dict[str, Any]:
    """A problem as the API gives it: `node`, `path` and `message` as the checker said them, and the
    message in both languages as `zh` and `en`."""
    return {
        "node": problem.node,
        "path": problem.path,
        "message": problem.message,
        "zh": say(problem.message, "zh"),
        "en": say(problem.message, "en"),
    }


__all__ = ["known", "problem_words", "say"]
