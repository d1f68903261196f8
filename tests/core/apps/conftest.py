"""Fixtures of the apps' webhook tests: an app with in-process jobs and fast webhook settings,
and a local receiver standing for the app's server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from tests.http_server import HTTPServer, running
from tests.webhook_helpers import webhook_client


@pytest.fixture
def jobs_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    with webhook_client(settings) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    with running() as server:
        yield server
