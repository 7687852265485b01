from dalecpy.spec import load_spec


def big_spec() -> str:
    lines = ["name: big", "version: '1'", "revision: 1", "sources:"]
    for i in range(100):
        lines += [f"  src{i}:", "    git:", f"      url: https://example.com/r{i}.git", f"      commit: c{i}"]
    lines += ["build:", "  env: {A: b}", "  caches:"]
    for i in range(200):
        lines += ["    - dir:", f"        key: k{i}", f"        dest: /cache/{i}", "        sharing: locked"]
    lines += ["  steps:"]
    for i in range(1000):
        lines += [f"    - command: echo step {i}", "      env:", f"        N: '{i}'"]
    return "\n".join(lines) + "\n"


def test_big_spec_loads():
    # Speed is measured by bench/render.py, never asserted here (timings flake on a busy machine).
    ls = load_spec(big_spec())
    assert len(ls.spec.build.steps) == 1000 and len(ls.spec.build.caches) == 200 and len(ls.spec.sources) == 100
    assert ls.position(("build", "steps", 999, "command")) is not None
