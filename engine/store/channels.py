"""The channels operators name and give a cost (DESIGN §17). A mixin of :class:`engine.store.Store`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from ..channel import ChannelRecord
from ..errors import NotFound
from . import schema as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine


class ChannelStore:
    engine: SAEngine
    _insert: Any

    if TYPE_CHECKING:

        def transaction(self) -> Any: ...

    def put_channel(self, record: ChannelRecord, now: int) -> None:
        """Create a channel or replace its name and cost."""
        values = {"name": record.name, "cost": record.cost, "updated_at": now}
        stmt = self._insert(t.channels).values(id=record.id, **values)
        with self.transaction() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))

    def get_channel(self, channel_id: str) -> ChannelRecord:
        c = t.channels.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.id, c.name, c.cost).where(c.id == channel_id)).first()
        if row is None:
            raise NotFound(f"no channel `{channel_id}` (找不到渠道 {channel_id})")
        return ChannelRecord(row.id, row.name, row.cost)

    def list_channels(self) -> list[ChannelRecord]:
        """Every channel, by id (a community has tens of them, not thousands)."""
        c = t.channels.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.id, c.name, c.cost).order_by(c.id))
            return [ChannelRecord(r.id, r.name, r.cost) for r in rows]

    def delete_channel(self, channel_id: str) -> None:
        """Forget a channel's name and cost (its members keep their `channel`)."""
        with self.transaction() as conn:
            if not conn.execute(delete(t.channels).where(t.channels.c.id == channel_id)).rowcount:
                raise NotFound(f"no channel `{channel_id}` (找不到渠道 {channel_id})")
