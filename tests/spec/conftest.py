import pathlib

import pytest

DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture
def valid_text() -> str:
    return (DATA / "valid.yml").read_text()
