"""Welcome messages (`send_welcome_msg`, DESIGN §20), sent many at a time.

A welcome code lasts 20 s, and adds come in bursts of hundreds a second: the welcomes of one
dispatch are looked up in the ledger together, marked `calling` together, sent in parallel (each call
waits on WeCom, not on this process) and recorded together, so a burst costs a few transactions, not
a few per welcome.

Each key is called at most once unless its answer was lost: a key found `calling` was called before,
and WeCom's 41051 for it ("代表欢迎语已成功下发", path 92137) means that call got through.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ...clock import Clock, to_us
from ..base import MADE_SENT, Delivery, DeliveryFailed, Made
from .client import WecomApi
from .errors import Unreachable, WecomError, WelcomeCodeUsed
from .ledger import CALLING, SENT, Ledger, SendRow
from .messages import attachments_of, text_of

CALLS_AT_ONCE = 16  # welcome calls in flight at a time, per connector


class WelcomeSender:
    """Sends welcome deliveries through `api`, recording each call in `ledger`."""

    def __init__(self, api: WecomApi, ledger: Ledger, clock: Clock) -> None:
        self.api = api
        self.ledger = ledger
        self.clock = clock
        self._calls: ThreadPoolExecutor | None = None

    def send(self, deliveries: Sequence[Delivery]) -> list[Made | DeliveryFailed]:
        """Each welcome's outcome, in order."""
        results: list[Made | DeliveryFailed | None] = [None] * len(deliveries)
        keys = [d.key for d in deliveries]
        earlier = self.ledger.find(keys)
        at = to_us(self.clock.now())
        calls: list[int] = []
        for index, delivery in enumerate(deliveries):
            code = delivery.payload.get("welcome_code")
            if not isinstance(code, str) or not code:
                results[index] = DeliveryFailed("欢迎语没有 welcome_code (no welcome code)", retryable=False)
            elif (row := earlier.get(delivery.key)) is not None and row.state == SENT:
                results[index] = MADE_SENT
            else:
                calls.append(index)
        self.ledger.begin([_calling(deliveries[i], at) for i in calls if deliveries[i].key not in earlier])
        answers = self._call_all([deliveries[i] for i in calls])
        made: list[str] = []
        forget: list[str] = []
        for index, answer in zip(calls, answers, strict=True):
            key = deliveries[index].key
            called_before = key in earlier
            if answer is None:
                made.append(key)
                results[index] = MADE_SENT
            elif isinstance(answer, WelcomeCodeUsed) and called_before:
                # This key called before and its answer was lost: the welcome that went out was ours.
                made.append(key)
                results[index] = MADE_SENT
            else:
                if _made_nothing(answer, called_before):
                    forget.append(key)
                results[index] = answer
        self.ledger.made(made, None, SENT, at)
        self.ledger.forget(forget)
        return results  # type: ignore[return-value]  # every place is filled above

    def _call_all(self, deliveries: list[Delivery]) -> list[DeliveryFailed | None]:
        if len(deliveries) <= 1:
            return [self._call(d) for d in deliveries]
        if self._calls is None:
            self._calls = ThreadPoolExecutor(CALLS_AT_ONCE, thread_name_prefix="wecom-welcome")
        return list(self._calls.map(self._call, deliveries))

    def _call(self, delivery: Delivery) -> DeliveryFailed | None:
        """None when WeCom took the welcome; else why not."""
        payload = delivery.payload
        try:
            attachments = attachments_of(payload) or None
            self.api.send_welcome_msg(payload["welcome_code"], text_of(payload), attachments)
        except (WecomError, Unreachable) as error:
            return error
        except Exception as error:  # a bug here must not lose what the others' calls did
            return Unreachable(f"企业微信调用出错 (the call failed): {type(error).__name__}: {error}")
        return None

    def close(self) -> None:
        if self._calls is not None:
            self._calls.shutdown(wait=False)


def _made_nothing(answer: DeliveryFailed, called_before: bool) -> bool:
    """Whether a failed call leaves nothing to remember: WeCom answered with an error (a 41051 is
    ours only for a key that called before), or the call never arrived and none was made before.
    Only a call that may have reached WeCom can explain a later 41051 as ours."""
    if isinstance(answer, WelcomeCodeUsed):
        return not called_before
    if isinstance(answer, WecomError):
        return True
    return not called_before and not (isinstance(answer, Unreachable) and answer.may_have_reached)


def _calling(delivery: Delivery, at: int) -> SendRow:
    member = delivery.member
    code = str(delivery.payload.get("welcome_code"))
    return SendRow(delivery.key, "welcome", member, member or "", None, code[:40], None, CALLING, at)


__all__ = ["CALLS_AT_ONCE", "WelcomeSender"]
