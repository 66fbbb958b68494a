"""The Dockerfile's steps without a container engine: the build context as .dockerignore
leaves it, the wheel built by the build stage's own command, installed alone into a clean
virtualenv as the runtime stage does, then run from outside any source tree. The compiled
core must be what loads and what parses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import REPO, corpus_dir

DOCKERFILE = REPO / "Dockerfile"
SESSION = "binance_spot.cf_2021-10-11"


def ignore_patterns() -> list[re.Pattern]:
    """.dockerignore as regular expressions over context-relative POSIX paths (``*`` and ``?``
    within one path part, ``**/`` any number of directories; a match covers what is below)."""
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        text, i = "", 0
        pat = line.rstrip("/")
        while i < len(pat):
            if pat.startswith("**/", i):
                text, i = text + "(?:.*/)?", i + 3
            elif pat[i] == "*":
                text, i = text + "[^/]*", i + 1
            elif pat[i] == "?":
                text, i = text + "[^/]", i + 1
            else:
                text, i = text + re.escape(pat[i]), i + 1
        patterns.append(re.compile(text + "(?:/.*)?"))
    return patterns


def build_context(target: Path) -> list[str]:
    """Copy the tree as Docker would send it; returns the context's files."""
    patterns = ignore_patterns()
    ignored = lambda rel: any(p.fullmatch(rel) for p in patterns)  # noqa: E731
    files = []
    for root, dirs, names in os.walk(REPO):
        rel_root = Path(root).relative_to(REPO).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        dirs[:] = [d for d in dirs if not ignored(rel_root + d)]
        for name in names:
            rel = rel_root + name
            if ignored(rel):
                continue
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(root) / name, target / rel)
            files.append(rel)
    return files


def stages() -> list[list[str]]:
    """The Dockerfile's instructions, per stage (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        out[-1].append(line)
    return out


def test_the_dockerfile_builds_a_wheel_and_runs_it_as_a_user() -> None:
    build, runtime = stages()
    assert "RUN bash scripts/build_wheel.sh /wheels" in build
    assert not any(i.startswith(("COPY . ", "ADD ")) for i in runtime), "the runtime stage must not hold the sources"
    assert any(i.startswith("COPY --from=build /wheels") for i in runtime)
    assert any("pip install" in i and "/wheels/*.whl" in i for i in runtime)
    users = [i.split()[1] for i in runtime if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(i.startswith("ENV ") and "MPF_REQUIRE_COMPILED=1" in i for i in runtime)


def test_the_build_context_has_no_local_build_artefacts(tmp_path: Path) -> None:
    files = build_context(tmp_path)
    assert "Dockerfile" in files and "setup.py" in files and "marketprism_fast/_parse.pyx" in files
    bad = [f for f in files if f.startswith((".venv/", "build/", "out/")) or f.endswith((".so", ".c"))]
    assert bad == []


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A clean virtualenv with only the wheel the build stage makes; its python."""
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler (scripts/setup.sh installs build-essential)")
    work = tmp_path_factory.mktemp("image")
    context = work / "src"
    build_context(context)
    wheels = work / "wheels"
    subprocess.run(["bash", "scripts/build_wheel.sh", str(wheels)], cwd=context, check=True, timeout=900,
                   env=dict(os.environ, PYTHON=sys.executable), capture_output=True)  # fmt: skip
    (wheel,) = wheels.glob("marketprism_fast-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # The runtime stage installs the wheel and its dependencies from the index; here the
    # dependencies come from the project's environment, behind the clean site-packages
    # (a path in a .pth file: the editable install's own hooks there are not run).
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())  # fmt: skip
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=300, capture_output=True)  # fmt: skip
    (site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def run_in_image(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["MPF_REQUIRE_COMPILED"] = "1"
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_installed_compiled_core_is_what_loads(installed: Path, tmp_path: Path) -> None:
    probe = run_in_image(installed, tmp_path, "-c", (
        "import marketprism_fast, marketprism_fast._parse as p, marketprism_fast._book as b, "
        "marketprism_fast.offline._lines as l, marketprism_fast.offline._encode as e, "
        "marketprism_fast.transport._listener as t\n"
        "from marketprism_fast import parser\n"
        "print(marketprism_fast.__file__); print(p.__file__); print(b.__file__); print(l.__file__); print(e.__file__); print(t.__file__)\n"
        "print(type(parser.make_parser('binance_spot')).__module__)"
    ))  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    *paths, parser_module = probe.stdout.split()
    venv = installed.parent.parent
    for path in paths:
        assert Path(path).resolve().is_relative_to(venv.resolve()), f"{path} is not the installed package"
        assert not Path(path).resolve().is_relative_to(REPO)
    assert all(p.endswith(".so") for p in paths[1:])
    assert parser_module == "marketprism_fast._parse"


def test_the_installed_command_normalizes_with_the_compiled_parser(installed: Path, tmp_path: Path) -> None:
    frames = corpus_dir() / "binance_spot" / f"{SESSION}.frames.jsonl.zst"
    result = run_in_image(installed, tmp_path, "-m", "marketprism_fast", "normalize", "--venue", "binance_spot",
                          str(frames), "--parser", "compiled", "--format", "parquet", "--out", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "(compiled parser)" in result.stderr
    assert (tmp_path / "out" / "trade.parquet").stat().st_size > 0
