"""The built-in node library. It uses exactly the API a custom node package uses."""

from engine import Registry

from . import actions, conditions, triggers, waits


def register(registry: Registry) -> None:
    """Entry point (`qunflow.nodes`): add the built-in nodes to a registry."""
    for module in (triggers, conditions, waits, actions):
        registry.add_module(module)


__all__ = ["register"]
