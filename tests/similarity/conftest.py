"""Fixtures for the similarity tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """The arrays here are small: one intra-op thread avoids thread start-up and
    contention costs that dominate them on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
