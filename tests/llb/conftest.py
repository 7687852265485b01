from __future__ import annotations

import pytest

from dalecpy import llb


@pytest.fixture
def busybox() -> llb.State:
    return llb.image("busybox")
