"""The durable store (SQLite or PostgreSQL)."""

from .reports import journey_status
from .store import FlowRecord, Store

__all__ = ["FlowRecord", "Store", "journey_status"]
