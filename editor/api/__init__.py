"""The JSON API (DESIGN §11): one controller per resource, and the one error mapping."""

from .accounts import AccountController
from .connectors import ConnectorController
from .content import ContentController
from .deliveries import DeliveryController
from .errors import EXCEPTION_HANDLERS
from .events import EventController
from .flows import FlowController
from .groups import GroupController
from .members import MemberController
from .nodes import NodeController
from .publishing import PublishingController
from .runs import RunController
from .settings import SettingsController
from .staff import StaffController
from .tags import TagController
from .tasks import TaskController
from .testsend import TestSendController

CONTROLLERS = [
    NodeController,
    FlowController,
    PublishingController,
    EventController,
    RunController,
    MemberController,
    GroupController,
    ContentController,
    StaffController,
    TagController,
    DeliveryController,
    AccountController,
    ConnectorController,
    SettingsController,
    TaskController,
    TestSendController,
]

__all__ = ["CONTROLLERS", "EXCEPTION_HANDLERS"]
