"""The documentation site builds (issue 15, items 1, 2 and 5): Sphinx with MyST, furo and
autodoc, warnings as errors, offline; the screenshots are taken in Chromium first and the
sequence diagrams rendered from their PlantUML sources; the generated pages (the command's
reference, the preset table, the hooks, the API and the error tree) say what the code says."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oauthkit.providers import all_presets

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shots = subprocess.run(
        [
            sys.executable,
            DOCS.parent / "tests" / "docs" / "screenshots.py",
            DOCS / "_static" / "screenshots",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shots.returncode == 0, shots.stdout + shots.stderr
    out = tmp_path_factory.mktemp("html")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-E",
            "-b",
            "html",
            "-d",
            out / ".doctrees",
            DOCS,
            out,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return out


def _text(page: Path) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text("utf-8"))).split())


def test_every_page_is_built(site: Path) -> None:
    sources = [p for p in DOCS.rglob("*.md") if "_build" not in p.parts]
    for source in sources:
        built = site / source.relative_to(DOCS).with_suffix(".html")
        assert built.exists(), built
    assert "furo" in (site / "index.html").read_text()
    assert "copybutton" in (site / "index.html").read_text()


def test_the_command_reference_is_the_commands_help(site: Path) -> None:
    from oauthkit.cli.app import cli

    page = _text(site / "reference" / "command.html")
    for name, command in cli.commands.items():
        assert f"Usage: oauthkit {name}" in page, name
        for parameter in command.params:
            for option in getattr(parameter, "opts", []):
                if option.startswith("-"):
                    assert option in page, (name, option)


def test_the_preset_table_and_hooks_are_the_presets(site: Path) -> None:
    page = _text(site / "providers" / "index.html")
    for preset in all_presets():
        assert preset.title in page, preset.name
        for hook in preset.hooks:
            assert hook.name in page
            assert " ".join(hook.summary.split()) in page, hook.name


def test_the_api_reference_documents_the_public_surface(site: Path) -> None:
    api = (site / "reference" / "api.html").read_text()
    for name in (
        "oauthkit.OAuth2Client.exchange_code",
        "oauthkit.OAuth2Client.poll_device",
        "oauthkit.OAuth1Client.fetch_request_token",
        "oauthkit.Session.from_config",
        "oauthkit.Token.is_expired",
        "oauthkit.web.WebFlow",
        "oauthkit.stores.SQLAlchemyStore",
        "oauthkit.oauth1.sign_request",
        "oauthkit.for_resource",
        "oauthkit.ResourceAuth.login",
    ):
        assert f'id="{name}"' in api, name
    errors = (site / "reference" / "errors.html").read_text()
    for name in ("ReauthenticationRequired", "InvalidGrant", "BrowserMismatch", "StoreConflict"):
        assert f'id="oauthkit.errors.{name}"' in errors, name


def test_diagrams_are_rendered_from_their_sources(site: Path) -> None:
    sources = sorted((DOCS / "diagrams").glob("*.puml"))
    assert len(sources) >= 4
    images = list((site / "_images").glob("plantuml-*.svg"))
    assert len(images) == len(sources)
    drawn = " ".join(image.read_text() for image in images)
    for words in ("oauth_verifier", "code_verifier", "slow_down", "compare-and-set"):
        assert words in drawn, words


def test_screenshots_are_in_the_site(site: Path) -> None:
    for name in ("consent.png", "device-prompt.png"):
        image = site / "_images" / name
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert image.stat().st_size > 10_000, name


def test_the_troubleshooting_page_lists_every_message(site: Path) -> None:
    """Every message raised in the code (read from the source) is on the page, and the
    text each hand-written entry quotes is the code's own (its pieces between the ``…``)."""
    import ast

    sys.path.insert(0, str(DOCS / "_ext"))
    from oauthkit_messages import PACKAGE, messages

    page = _text(site / "reference" / "troubleshooting.html")
    found = messages()
    assert len(found) > 300
    for message in found:
        assert message.text in page, message
    from oauthkit_messages import _text as template

    corpus = [  # every string the package builds, "…" for what it fills in
        " ".join(text.split())
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Constant | ast.JoinedStr | ast.BinOp)
        and (text := template(node)) is not None
    ]
    source = (DOCS / "reference" / "troubleshooting.md").read_text("utf-8")
    quoted = re.findall(r"^`([^`]+)`", source.split("## Every message")[0], re.MULTILINE)
    assert len(quoted) >= 12
    for quote in quoted:
        for piece in (" ".join(p.split()).strip(" :;,.()—") for p in quote.split("…")):
            if len(piece) > 8 and not piece.startswith("invalid_client"):
                assert any(piece in text for text in corpus), (quote, piece)
