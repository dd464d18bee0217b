"""The package as users get it (issue 15, item 4): ``python -m build`` makes the sdist and the
wheel, ``twine check`` passes, LICENSE and CHANGELOG ship in both, and the wheel installed
into a fresh virtual environment works: without extras ``import oauthkit`` does and the
command names the extra it needs (in one line, also beside a web framework's extra); with
``[cli]``, ``oauthkit demo`` passes."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import oauthkit

ROOT = Path(__file__).resolve().parents[2]


def _run(*command: str | Path, cwd: Path | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{command}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("oauthkit-*.whl")
    return wheel


def test_the_version_comes_from_one_place(dist: Path) -> None:
    source = (ROOT / "src" / "oauthkit" / "_version.py").read_text()
    (declared,) = re.findall(r'__version__ = "([^"]+)"', source)
    assert oauthkit.__version__ == declared
    assert _wheel(dist).name == f"oauthkit-{declared}-py3-none-any.whl"
    assert (dist / f"oauthkit-{declared}.tar.gz").exists()
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()
    assert f"## {declared}" in (ROOT / "CHANGELOG.md").read_text()


def test_twine_check_passes(dist: Path) -> None:
    output = _run(sys.executable, "-m", "twine", "check", "--strict", *dist.iterdir())
    assert output.count("PASSED") == 2


def test_license_and_changelog_ship_in_both(dist: Path) -> None:
    with zipfile.ZipFile(_wheel(dist)) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "oauthkit/CHANGELOG.md" in names
    assert "oauthkit/py.typed" in names
    assert b"License-Expression: MIT" in metadata
    (sdist,) = dist.glob("oauthkit-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= members
    assert not any(name.startswith("docs/_build") or "node_modules" in name for name in members)


def test_the_wheel_in_a_fresh_environment(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python, command = venv / "bin" / "python", venv / "bin" / "oauthkit"
    _run(python, "-m", "pip", "install", "--quiet", _wheel(dist))
    imported = _run(
        python, "-c", "import oauthkit; print(oauthkit.__version__, oauthkit.OAuth2Client)"
    )
    assert oauthkit.__version__ in imported
    bare = subprocess.run([command, "demo"], capture_output=True, text=True, check=False)
    assert bare.returncode == 1
    assert "pip install 'oauthkit[cli]'" in bare.stderr
    assert "Traceback" not in bare.stderr

    # A web app's extra brings click, not the rest of the cli extra: still one line.
    _run(python, "-m", "pip", "install", "--quiet", f"{_wheel(dist)}[flask]")
    for name in ("demo", "sandbox"):
        web = subprocess.run([command, name], capture_output=True, text=True, check=False)
        assert web.returncode == 1
        assert web.stderr.strip().splitlines() == [
            "oauthkit: the command needs the cli extra (oauthlib is not installed): "
            "pip install 'oauthkit[cli]'"
        ], web.stderr

    _run(python, "-m", "pip", "install", "--quiet", f"{_wheel(dist)}[cli]")
    demo = subprocess.run(
        [command, "demo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "GET http://127.0.0.1" in demo.stdout + demo.stderr
