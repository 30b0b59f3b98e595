"""The landing page after login: the flows, whether they are live, and how their members are doing."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from .api.flows import flow_summaries
from .auth import READ, allow
from .services import Services


@get("/", guards=[allow(READ)], sync_to_thread=True, include_in_schema=False)
def home(services: Services) -> Template:
    return Template(
        "home.html",
        context={"flows": flow_summaries(services), "deliveries": services.store.delivery_counts()},
    )
