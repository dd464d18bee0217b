"""The provider pages (docs/providers/) say what the presets do: one section per preset, with
its endpoints, its quirk hooks — no more, no fewer — and a configuration example that the
command reads (the examples themselves are checked by test_examples.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oauthkit.providers import all_presets
from oauthkit.providers.preset import Preset

PAGES = Path(__file__).resolve().parents[2] / "docs" / "providers"
_SECTION = re.compile(r"^## (?P<title>.+) — preset `(?P<name>[a-z0-9-]+)`$", re.M)


def _sections() -> dict[str, str]:
    found: dict[str, str] = {}
    for page in sorted(PAGES.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        heads = list(_SECTION.finditer(text))
        for head, following in zip(heads, [*heads[1:], None][: len(heads)], strict=True):
            end = following.start() if following else len(text)
            assert head["name"] not in found, f"preset {head['name']} has two sections"
            found[head["name"]] = text[head.start() : end]
    return found


SECTIONS = _sections()


def test_every_preset_has_one_section() -> None:
    assert set(SECTIONS) == {preset.name for preset in all_presets()}


@pytest.mark.parametrize("preset", all_presets(), ids=lambda p: p.name)
def test_a_section_says_what_its_preset_does(preset: Preset) -> None:
    section = SECTIONS[preset.name]
    listed = set(re.findall(r"^- `([A-Z0-9_]+)`:", section, re.M))
    assert listed == {hook.name for hook in preset.hooks}
    for endpoint in (
        preset.authorization_endpoint,
        preset.token_endpoint,
        preset.device_authorization_endpoint,
        preset.request_token_url,
        preset.access_token_url,
    ):
        if endpoint:
            assert f"`{endpoint}`" in section, endpoint
    assert f'preset = "{preset.name}"' in section
    assert preset.docs in section
