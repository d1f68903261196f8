"""Stopping the job runtime lets the relay and the scheduler finish the step they are in."""

from __future__ import annotations

import asyncio

import pytest

from core.jobs.runtime import every


@pytest.mark.anyio
async def test_stopping_lets_the_step_in_progress_finish_and_runs_no_other() -> None:
    stopping = asyncio.Event()
    started, finished = asyncio.Event(), []

    async def step() -> None:
        started.set()
        await asyncio.sleep(0.05)  # a transaction in flight when the process is asked to stop
        finished.append(True)

    loop = asyncio.create_task(every(3600, step, stopping))
    await started.wait()
    stopping.set()
    await asyncio.wait_for(loop, 5)
    assert finished == [True]


@pytest.mark.anyio
async def test_a_failing_step_is_retried_at_the_next_interval() -> None:
    stopping = asyncio.Event()
    calls: list[int] = []

    async def step() -> None:
        calls.append(1)
        if len(calls) == 3:
            stopping.set()
        raise ConnectionError("database down")

    await asyncio.wait_for(every(0.01, step, stopping), 5)
    assert len(calls) == 3
