"""The meaningful facts of a build graph, read by walking it: what a user of the spec would notice.

Dalec and dalecpy build different graphs for the same spec (Dalec runs the build under dpkg-buildpackage or
rpmbuild from a generated debian/ dir or .spec file, with helper ops of its own; dalecpy runs one build
script and packs with dpkg-deb), so op digests never match. What must match is what the spec asks for: the
cache mounts (ID, dest, sharing), ssh mounts, the build's environment and steps, the bazelrc, the sources,
the package's dependency lists and where each artifact lands. Each side has its own reader that finds those
facts where that side puts them; both return `Facts`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping

from dalecpy.llb import ops_pb2 as pb
from dalecpy.llb._wire import digest_of

_SHARING_NAMES = {0: "shared", 1: "private", 2: "locked"}
_INTERNAL_SOURCES = ("local://dockerfile",)
#: exec env keys that say nothing about the spec (set by BuildKit's llb or by the package tooling)
_NEUTRAL_ENV = {"PATH"}


@dataclass(frozen=True)
class Cache:
    id: str
    dest: str
    sharing: str

    def __str__(self) -> str:
        return f"{self.id} at {self.dest} ({self.sharing})"


@dataclass
class Facts:
    caches: set[Cache] = field(default_factory=set)
    ssh: set[tuple[str, str, bool]] = field(default_factory=set)  # (id, dest, optional)
    build_env: dict[str, str] = field(default_factory=dict)  # the build step's environment
    steps: list[str] = field(default_factory=list)  # each build step's script, as run
    bazelrc: set[str] = field(default_factory=set)  # the generated rc texts
    bazel_remote: set[str] = field(default_factory=set)  # rc lines added when the remote-cache socket exists
    sources: set[str] = field(default_factory=set)  # "identifier attr=value ..." per source op
    deps: dict[str, list[str]] = field(default_factory=dict)  # "build", "Depends", "Recommends", ...
    layout: dict[str, str] = field(default_factory=dict)  # installed path -> its source, "dir" or "-> target"
    modes: dict[str, str] = field(default_factory=dict)  # installed path -> octal mode the package sets
    version: str = ""  # the package version (Debian: upstream-revision)
    found_build: bool = False  # whether the build op and script were located at all


class Graph:
    """All ops of one or more Definitions, by digest."""

    def __init__(self, definitions: Iterable[pb.Definition]) -> None:
        self.ops: dict[str, pb.Op] = {}
        for d in definitions:
            for dt in getattr(d, "def"):
                dg = digest_of(dt)
                if dg not in self.ops:
                    op = pb.Op()
                    op.ParseFromString(dt)
                    self.ops[dg] = op

    def execs(self) -> Iterator[tuple[str, pb.ExecOp]]:
        for dg, op in self.ops.items():
            if op.WhichOneof("op") == "exec":
                yield dg, op.exec

    def sources(self) -> Iterator[pb.SourceOp]:
        for op in self.ops.values():
            if op.WhichOneof("op") == "source":
                yield op.source

    def ancestors(self, digest: str) -> set[str]:
        seen: set[str] = set()
        todo = [digest]
        while todo:
            dg = todo.pop()
            if dg in seen or dg not in self.ops:
                continue
            seen.add(dg)
            todo.extend(i.digest for i in self.ops[dg].inputs)
        return seen

    def mkfiles(self, within: set[str] | None = None) -> Iterator[tuple[str, bytes]]:
        """(path, data) of every mkfile action, optionally only in the ops `within`."""
        for dg, op in self.ops.items():
            if within is not None and dg not in within:
                continue
            if op.WhichOneof("op") == "file":
                for a in op.file.actions:
                    if a.WhichOneof("action") == "mkfile":
                        yield a.mkfile.path, a.mkfile.data

    def mount_input(self, dg: str, dest: str) -> str | None:
        """The digest of the op mounted at `dest` in exec op `dg`."""
        op = self.ops[dg]
        for m in op.exec.mounts:
            if m.dest == dest and 0 <= m.input < len(op.inputs):
                return op.inputs[m.input].digest
        return None


# ---------------------------------------------------------------------------------------------- common facts

def _common(g: Graph, facts: Facts, internal_images: tuple[str, ...] = ()) -> None:
    for _, ex in g.execs():
        for m in ex.mounts:
            if m.mountType == pb.CACHE:
                facts.caches.add(Cache(m.cacheOpt.ID, m.dest, _SHARING_NAMES.get(m.cacheOpt.sharing, "?")))
            elif m.mountType == pb.SSH:
                facts.ssh.add((m.SSHOpt.ID or "default", m.dest, m.SSHOpt.optional))
    for src in g.sources():
        if src.identifier in _INTERNAL_SOURCES or src.identifier in internal_images:
            continue
        attrs = " ".join(f"{k}={v}" for k, v in sorted(src.attrs.items()))
        facts.sources.add(f"{src.identifier} {attrs}".strip())
    for path, data in g.mkfiles():
        text = data.decode("utf-8", "replace")
        if path.rsplit("/", 1)[-1] in ("bazelrc", "bazel.bazelrc"):
            facts.bazelrc.add(text)
        facts.bazel_remote.update(m.group(1) for m in _REMOTE_LINE.finditer(text))


_REMOTE_LINE = re.compile(r'echo "((?:build|fetch) --remote_cache=[^"]*)" >>')


def _exports(line: str) -> dict[str, str]:
    """`export K=V` / `export "K"="V"` / `export K := V` (make) -> {K: V}, shell-unquoted."""
    line = line.strip()
    if not line.startswith("export "):
        return {}
    body = line[len("export "):]
    if ":=" in body and "=" not in body.split(":=", 1)[0]:
        k, v = body.split(":=", 1)
        return {k.strip(): v.strip()}
    try:
        words = shlex.split(body)
    except ValueError:
        return {}
    return dict(w.split("=", 1) for w in words if "=" in w)


def _op_env(ex: pb.ExecOp) -> dict[str, str]:
    pairs = (kv.split("=", 1) for kv in ex.meta.env)
    return {k: v for k, v in pairs if k not in _NEUTRAL_ENV}


def _read_build_script(data: bytes, facts: Facts) -> None:
    env, facts.steps = _script_facts(data.decode("utf-8", "replace"))
    facts.build_env.update(env)


def _script_facts(text: str) -> tuple[dict[str, str], list[str]]:
    """The top-level exports and the `( ... )` step blocks of a generated build script."""
    env: dict[str, str] = {}
    steps: list[str] = []
    block: list[str] | None = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if block is None:
            if line == "(":
                block = []
            else:
                env.update(_exports(line))
        elif line == ")":
            steps.append(_normalize_step(block))
            block = None
        elif line.endswith(")") and (i + 1 == len(lines) or lines[i + 1] in ("(", "")):
            # Dalec's RPM script closes a step with no trailing newline on its last line: `cmd)`
            steps.append(_normalize_step([*block, line[:-1]]))
            block = None
        else:
            block.append(line)
    return env, steps


def _normalize_step(lines: list[str]) -> str:
    out = []
    for line in lines:
        exp = _exports(line)
        out.append(" ".join(f"export {k}={shlex.quote(v)}" for k, v in exp.items()) if exp else line)
    return "\n".join(out).strip("\n")


def _dep_list(value: str) -> list[str]:
    out = []
    for item in value.split(","):
        item = " ".join(item.split())
        if not item or item.startswith("${") or item.startswith("debhelper-compat"):
            continue
        out.append(item)
    return sorted(out)


def control_stanzas(text: str) -> list[dict[str, str]]:
    """Paragraphs of a Debian control file (Dalec writes `Key:value`, dpkg `Key: value`)."""
    stanzas: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur, key = {}, None
            continue
        m = re.match(r"^([A-Za-z][A-Za-z0-9-]*):(.*)$", line)
        if m and not line[0].isspace():
            key = m.group(1)
            cur[key] = m.group(2).strip()
        elif key:
            cur[key] += "\n" + line.strip()
    if cur:
        stanzas.append(cur)
    return stanzas


_RELATIONS = ("Pre-Depends", "Depends", "Recommends", "Suggests", "Provides", "Conflicts", "Replaces", "Breaks")


def _runtime_deps(stanza: Mapping[str, str], deps: dict[str, list[str]]) -> None:
    for f in _RELATIONS:
        if lst := _dep_list(stanza.get(f, "")):
            deps[f] = lst


# ---------------------------------------------------------------------------------------------- dalecpy

#: dalecpy's build ops: the Debian build step, rpmbuild, the windowscross build-and-collect op
_BUILD_OPS = ("/tmp/dalec/internal/build.sh", "/tmp/dalec/internal/rpmbuild.sh", "/tmp/dalec/internal/collect.sh")


def dalecpy_facts(definitions: Iterable[pb.Definition]) -> Facts:
    g = Graph(definitions)
    facts = Facts()
    _common(g, facts)
    for dg, ex in g.execs():
        if list(ex.meta.args) not in ([op] for op in _BUILD_OPS):
            continue
        facts.found_build = True
        facts.build_env.update(_op_env(ex))
    for path, data in g.mkfiles():
        text = data.decode("utf-8", "replace")
        if path == "/build.sh":
            _read_build_script(data, facts)
        elif path == "/deps.control":
            for st in control_stanzas(text):
                if lst := _dep_list(st.get("Depends", "")):
                    facts.deps["build"] = lst
        elif path == "/control":
            for st in control_stanzas(text):
                _runtime_deps(st, facts.deps)
                facts.version = st.get("Version", "")
        elif path in ("/package.sh", "/collect.sh"):
            _dalecpy_layout(text, facts)
        elif re.fullmatch(r"/SPECS/([^/]+)/\1\.spec", path):
            _rpm_spec_facts(text, facts)
            section = re.search(r"^%install\n(.*?)(?=^%\w+\n|\Z)", text, re.M | re.S)
            _dalecpy_layout(section.group(1).replace("%%", "%") if section else "", facts)
    return facts


def _words(text: str) -> list[str]:
    """Shell words, without the `--` that ends a command's options."""
    return [w for w in shlex.split(text) if w != "--"]


def _dalecpy_layout(script: str, facts: Facts) -> None:
    """The package script's `dalec_install MODE DIR NAME SRC...`, `mkdir -p -m MODE [--] "$R"DIR` and
    `ln -sfn [--] TARGET "$R"LINK` lines."""
    for line in script.split("\n"):
        if line.startswith("dalec_install "):
            _, mode, parent, name, *srcs = _words(line)
            for src in srcs:
                path = f"{parent.rstrip('/')}/{name or src.rstrip('/').rsplit('/', 1)[-1]}"
                facts.layout[path] = src
                if mode != "-":
                    facts.modes[path] = mode
        elif line.startswith("mkdir -p -m "):
            _, _, _, mode, path = _words(line)
            facts.layout[path.removeprefix("$R")] = "dir"
            facts.modes[path.removeprefix("$R")] = mode
        elif m := re.search(r"&& ln -sfn (.*)$", line):
            target, link = _words(m.group(1))
            facts.layout[link.removeprefix("$R")] = f"-> {target}"


# ---------------------------------------------------------------------------------------------- Dalec

def dalec_facts(definitions: Iterable[pb.Definition], name: str, internal_images: tuple[str, ...] = ()) -> Facts:
    """Facts of Dalec's graph for package `name` (the spec's name): Debian or RPM targets."""
    g = Graph(definitions)
    facts = Facts()
    _common(g, facts, internal_images)
    if not _dalec_deb(g, facts, name):
        _dalec_rpm(g, facts, name)
    return facts


def _script(ex: pb.ExecOp) -> str:
    args = list(ex.meta.args)
    return args[-1] if args else ""


def _dalec_deb(g: Graph, facts: Facts, name: str) -> bool:
    # The source-package op for this package mounts its debian/ dir; every file of that dir is in its ancestry.
    src_op = next((dg for dg, ex in g.execs()
                   if "dpkg-buildpackage -S" in _script(ex) and f"/work/{name}_" in _script(ex)), None)
    if src_op is None:
        return False
    debian = g.mount_input(src_op, "/work/pkg/debian")
    files = dict(g.mkfiles(g.ancestors(debian) if debian else set()))
    for dg, ex in g.execs():
        if "dpkg-buildpackage -b" in _script(ex) and src_op in (i.digest for i in g.ops[dg].inputs):
            facts.found_build = True
            facts.build_env.update(_op_env(ex))
    if build := files.get("/debian/dalec/build.sh"):
        _read_build_script(build, facts)
    for st in control_stanzas(files.get("/debian/control", b"").decode()):
        if "Source" in st:
            if lst := _dep_list(st.get("Build-Depends", "")):
                facts.deps["build"] = lst
        elif st.get("Package") == name:
            _runtime_deps(st, facts.deps)
    changelog = files.get("/debian/changelog", b"").decode()
    if m := re.match(rf"^{re.escape(name)} \(([^)]*)\)", changelog):
        facts.version = m.group(1)
    _dalec_deb_layout(files, name, facts)
    return True


def _basename(p: str) -> str:
    return p.rstrip("/").rsplit("/", 1)[-1]


def _dalec_deb_layout(files: Mapping[str, bytes], name: str, facts: Facts) -> None:
    """debian/<name>.install (`do_install PARENT DEST SRC...`), .docs, .manpages, .dirs, .links and the
    explicit modes in debian/dalec/fix_perms.sh, as debhelper would apply them."""
    root = f"debian/{name}"

    def text(suffix: str) -> list[str]:
        return [ln.strip() for ln in files.get(f"/debian/{name}.{suffix}", b"").decode().splitlines() if ln.strip()]

    for line in text("install"):
        if not line.startswith("do_install "):
            continue
        _, _parent, dest, *srcs = shlex.split(line)
        dest = dest[len(root):] if dest.startswith(root) else dest
        for src in srcs:
            facts.layout[f"{dest.rstrip('/')}/{_basename(src)}" if len(srcs) > 1 else dest] = src
    for src in text("docs"):
        facts.layout[f"/usr/share/doc/{name}/{_basename(src)}"] = src
    for src in text("manpages"):
        section = re.search(r"\.(\d)\w*$", src)
        facts.layout[f"/usr/share/man/man{section.group(1) if section else '?'}/{_basename(src)}"] = src
    for d in text("dirs"):
        facts.layout["/" + d.lstrip("/")] = "dir"
    for line in text("links"):
        target, link = line.split()
        facts.layout["/" + link.lstrip("/")] = "-> /" + target.lstrip("/")
    perms = files.get("/debian/dalec/fix_perms.sh", b"").decode()
    for m in re.finditer(r'^chmod (\d+) "?' + re.escape(root) + r'(/[^"\s]*)"?$', perms, re.M):
        facts.modes[m.group(2)] = m.group(1)


#: RPM's directory macros as they expand on x86_64 and aarch64 (Dalec's %install uses the macros)
RPM_MACROS = {
    "%{_bindir}": "/usr/bin", "%{_libexecdir}": "/usr/libexec", "%{_libdir}": "/usr/lib64",
    "%{_includedir}": "/usr/include", "%{_mandir}": "/usr/share/man", "%{_datadir}": "/usr/share",
    "%{_sysconfdir}": "/etc", "%{_docdir}": "/usr/share/doc", "%{_licensedir}": "/usr/share/licenses",
    "%{_unitdir}": "/usr/lib/systemd/system", "%{_sharedstatedir}": "/var/lib",
}


def _expand(path: str) -> str:
    for macro, value in RPM_MACROS.items():
        path = path.replace(macro, value)
    return re.sub(r"/+", "/", path)


def _rpm_spec_facts(text: str, facts: Facts) -> None:
    """Version-Release and the dependency fields of a generated RPM spec (either side's)."""
    ver = re.search(r"^Version:\s*(\S+)", text, re.M)
    rel = re.search(r"^Release:\s*(\S+)", text, re.M)
    facts.version = "-".join(m.group(1) for m in (ver, rel) if m)
    for field_, key in (("BuildRequires", "build"), ("Requires", "Requires"), ("Recommends", "Recommends"),
                        ("Provides", "Provides"), ("Conflicts", "Conflicts"), ("Obsoletes", "Obsoletes")):
        vals = [m.group(1) for m in re.finditer(rf"^{field_}:\s*(.+)$", text, re.M)]
        if vals:
            facts.deps[key] = sorted(" ".join(v.split()) for v in vals)


def _dalec_rpm(g: Graph, facts: Facts, name: str) -> None:
    files = dict(g.mkfiles())
    spec = files.get(f"/SPECS/{name}/{name}.spec")
    if spec is None:
        _dalec_windows(g, facts)
        return
    text = spec.decode()
    _rpm_spec_facts(text, facts)
    for dg, ex in g.execs():
        if "rpmbuild" in _script(ex) and f"SPECS/{name}/{name}.spec" in _script(ex):
            facts.found_build = True
            facts.build_env.update(_op_env(ex))
    if build := next((d for p, d in files.items() if p.endswith("/build.sh") and b"(" in d), None):
        _read_build_script(build, facts)
    section = re.search(r"^%install\n(.*?)(?=^%\w+|\Z)", text, re.M | re.S)
    for line in (section.group(1).splitlines() if section else []):
        line = line.strip()
        if m := re.match(r"^cp -r (\S+) %\{buildroot\}/?(\S+)$", line):
            facts.layout[_expand("/" + m.group(2))] = m.group(1)
        elif m := re.match(r"^chmod ([0-7]+) %\{buildroot\}/?(\S+)$", line):
            facts.modes[_expand("/" + m.group(2))] = m.group(1)
        elif m := re.match(r'^mkdir(?: -m ([0-7]+))? -p "%\{buildroot\}/?([^"]+)"$', line):
            facts.layout[_expand("/" + m.group(2))] = "dir"
            if m.group(1):
                facts.modes[_expand("/" + m.group(2))] = m.group(1)
        elif m := re.match(r"^ln -sf (\S+) %\{buildroot\}/?(\S+)$", line):
            facts.layout[_expand("/" + m.group(2))] = f"-> {m.group(1)}"


def _dalec_windows(g: Graph, facts: Facts) -> None:
    """Dalec's windowscross build: one op runs /tmp/scripts/_build.sh and moves each binary to /tmp/output."""
    files = dict(g.mkfiles())
    build = files.get("/_build.sh")
    if build is None:
        return
    for st in control_stanzas(files.get("/debian/control", b"").decode()):
        if st.get("Package", "").endswith("-build-deps") and (lst := _dep_list(st.get("Depends", ""))):
            facts.deps["build"] = lst
    for dg, ex in g.execs():
        script = _script(ex)
        if "/tmp/scripts/_build.sh" not in script:
            continue
        facts.found_build = True
        facts.build_env.update(_op_env(ex))
        for m in re.finditer(r"^mv '([^']+)' '/tmp/output'$", script, re.M):
            facts.layout["/" + _basename(m.group(1))] = m.group(1)
        for m in re.finditer(r"^chmod ([0-7]+) '/tmp/output/([^']+)'$", script, re.M):
            facts.modes["/" + _basename(m.group(2))] = m.group(1)
    steps, block = [], None
    for line in build.decode("utf-8", "replace").splitlines():
        if block is None:
            if line == "(":
                block = []
        elif line in (")", ") && \\"):
            steps.append(_normalize_step(block))
            block = None
        else:
            block.append(line)
    facts.steps = steps
