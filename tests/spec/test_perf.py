import subprocess
import sys
import time

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


def test_big_spec_fast():
    text = big_spec()
    load_spec(text)  # warm up
    best = min(_timed(text) for _ in range(3))
    ls = load_spec(text)
    assert len(ls.spec.build.steps) == 1000 and len(ls.spec.build.caches) == 200 and len(ls.spec.sources) == 100
    # 0.15 s needs ruamel.yaml.clib (libyaml events); the pure-Python parser alone takes ~0.25 s.
    from dalecpy.spec import yamlsrc

    assert best < (0.15 if yamlsrc._CParser is not None else 0.5), best


def _timed(text):
    t = time.perf_counter()
    load_spec(text)
    return time.perf_counter() - t


def test_import_is_light():
    code = "import time; t=time.perf_counter(); import dalecpy.spec; print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(out) < 1.0
