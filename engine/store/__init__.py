"""The durable store (SQLite or PostgreSQL)."""

from .store import FlowRecord, Store, journey_status

__all__ = ["FlowRecord", "Store", "journey_status"]
