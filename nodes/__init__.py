"""The built-in node library. It uses exactly the API a custom node package uses."""

from qunflow.sdk import Registry

from . import actions, community, conditions, schedule, triggers, waits, webhook


def register(registry: Registry) -> None:
    """Entry point (`qunflow.nodes`): add the built-in nodes to a registry."""
    for module in (triggers, schedule, conditions, waits, actions, community, webhook):
        registry.add_module(module)


__all__ = ["register"]
