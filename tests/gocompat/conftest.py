from __future__ import annotations


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "gocompat: re-runs BuildKit's Go client/llb (needs GOCOMPAT=1 and scripts/gocompat.sh's toolchain)"
    )
