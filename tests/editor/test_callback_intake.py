"""Callbacks arriving together are stored together (group commit), each answered once stored."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from qunflow.editor.callback_intake import CallbackIntake
from qunflow.engine.connectors.wecom.callbacks import Callback


def callback(number: int) -> Callback:
    return Callback(kind=f"test-{number}")


def test_callbacks_waiting_together_are_stored_in_one_batch_each_exactly_once() -> None:
    batches: list[int] = []
    first_in = threading.Event()
    release = threading.Event()

    def take_all(callbacks: Sequence[Callback]) -> None:
        batches.append(len(callbacks))
        if len(batches) == 1:
            first_in.set()
            release.wait(10)  # the first batch is slow: the others queue behind it meanwhile

    intake = CallbackIntake(take_all)
    first = threading.Thread(target=intake.take, args=(callback(0),))
    first.start()
    assert first_in.wait(10)
    others = [threading.Thread(target=intake.take, args=(callback(n),)) for n in range(1, 21)]
    for thread in others:
        thread.start()
    while len(intake._waiting) < 20:
        threading.Event().wait(0.01)  # waiting for the threads to queue, not measuring
    release.set()
    for thread in [first, *others]:
        thread.join(10)

    assert batches == [1, 20]


def test_a_failed_batch_fails_each_of_its_callbacks() -> None:
    def take_all(callbacks: Sequence[Callback]) -> None:
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        CallbackIntake(take_all).take(callback(1))
