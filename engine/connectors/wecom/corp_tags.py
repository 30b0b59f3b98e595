"""The corp's customer tags (企业客户标签, path 92117) as names: the bridge between qunflow's tag names
and WeCom's tag ids, shared by `mark_tag` deliveries and the sync.

Tags qunflow needs that the corp lacks are made in the tag group :data:`TAG_GROUP`; a name another
process made meanwhile (40071) is read back instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .client import WecomApi
from .errors import TAG_NAME_EXISTS, WecomError

TAG_GROUP = "qunflow"  # the corp tag group that tags made by qunflow go in


class CorpTags:
    """Name → corp tag id, read once and again whenever a name is missing."""

    def __init__(self, api: WecomApi) -> None:
        self.api = api
        self._ids: dict[str, str] | None = None
        self._lock = threading.Lock()

    def ids(self, names: Iterable[str], make_missing: bool) -> dict[str, str]:
        """The corp tag id of each name the corp has; with `make_missing`, the others are made
        first (so every name has one)."""
        names = list(dict.fromkeys(names))
        if not names:
            return {}
        with self._lock:
            if self._ids is None or any(n not in self._ids for n in names):
                self._ids = self.api.get_corp_tag_list()
            missing = [n for n in names if n not in self._ids]
            if missing and make_missing:
                try:
                    self._ids.update(self.api.add_corp_tag(missing, TAG_GROUP))
                except WecomError as error:
                    if error.code != TAG_NAME_EXISTS:
                        raise
                    self._ids = self.api.get_corp_tag_list()  # made meanwhile, by another process
            return {n: self._ids[n] for n in names if n in self._ids}

    def all(self) -> dict[str, str]:
        """Every corp tag, name → id, read now."""
        with self._lock:
            self._ids = self.api.get_corp_tag_list()
            return dict(self._ids)


__all__ = ["TAG_GROUP", "CorpTags"]
