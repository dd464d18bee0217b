"""Pages of the documentation that oauthkit writes about itself, at build time.

* ``oauthkit-command``: the reference of the ``oauthkit`` command, one section per
  subcommand with the help the command itself prints (``oauthkit NAME --help``), read from
  the click application, so the page cannot disagree with the program.
* ``oauthkit-presets``: the table of provider presets, from :mod:`oauthkit.providers`.
* ``oauthkit-hooks``: every quirk hook with its whole description (``Hook.doc``).
* ``oauthkit-messages``: every message oauthkit can show, read from its source
  (:mod:`oauthkit_messages`), for the troubleshooting page.
"""

from __future__ import annotations

from typing import Any

import click
from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx

WIDTH = 88


def _section(document: Any, title: str, *children: nodes.Node) -> nodes.section:
    section = nodes.section(ids=[nodes.make_id(title)], names=[nodes.fully_normalize_name(title)])
    section += nodes.title(title, "", nodes.literal(title, title))
    for child in children:
        section += child
    document.note_implicit_target(section, section)
    return section


def command_help(name: str | None = None) -> str:
    """What ``oauthkit [NAME] --help`` prints, at a fixed width."""
    from oauthkit.cli.app import cli

    root = click.Context(cli, info_name="oauthkit", max_content_width=WIDTH, terminal_width=WIDTH)
    if name is None:
        return cli.get_help(root)
    command = cli.commands[name]
    context = click.Context(
        command, parent=root, info_name=name, max_content_width=WIDTH, terminal_width=WIDTH
    )
    return command.get_help(context)


class CommandReference(Directive):
    """The whole command, then each subcommand in the order the program declares them; with
    an argument, that one subcommand's help alone."""

    has_content = False
    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        from oauthkit.cli.app import cli

        if self.arguments:
            text = command_help(self.arguments[0])
            return [nodes.literal_block(text, text, language="text")]
        document = self.state.document
        text = command_help()
        out: list[nodes.Node] = [nodes.literal_block(text, text, language="text")]
        for name in cli.commands:
            text = command_help(name)
            block = nodes.literal_block(text, text, language="text")
            out.append(_section(document, f"oauthkit {name}", block))
        return out


class PresetTable(Directive):
    """Preset, provider, protocol, features and quirk hooks of every preset."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from oauthkit.providers import all_presets

        header = ("Preset", "Provider", "Protocol", "Features", "Quirk hooks")
        rows = []
        for preset in sorted(all_presets(), key=lambda p: p.name):
            name = preset.name + "".join(f", {alias}" for alias in preset.aliases)
            rows.append(
                (
                    name,
                    preset.title,
                    "OAuth 1.0a" if preset.protocol == "oauth1" else "OAuth 2",
                    ", ".join(_features(preset)) or "—",
                    ", ".join(hook.name for hook in preset.hooks) or "—",
                )
            )
        return [_table(header, rows)]


def _features(preset: Any) -> list[str]:
    if preset.protocol == "oauth1":
        return ["PIN"] if preset.pin else []
    features = []
    if preset.issuer:
        features.append("discovery")
    if preset.pkce:
        features.append("PKCE (required)" if preset.pkce_required else "PKCE")
    if preset.device:
        features.append("device flow")
    if preset.refresh:
        features.append("refresh (rotating)" if preset.rotating_refresh else "refresh")
    return features


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> nodes.table:
    table = nodes.table()
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    head += _row(header)
    body = nodes.tbody()
    group += body
    for row in rows:
        body += _row(row)
    return table


def _row(cells: tuple[str, ...]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(cell, cell)
        row += entry
    return row


class HookList(Directive):
    """Each quirk hook: its name, the presets that use it, and its description."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from oauthkit.providers import all_presets

        users: dict[str, list[str]] = {}
        hooks: dict[str, Any] = {}
        for preset in all_presets():
            for hook in preset.hooks:
                hooks[hook.name] = hook
                users.setdefault(hook.name, []).append(preset.name)
        out: list[nodes.Node] = []
        for name in sorted(hooks):
            term = nodes.term("", "", nodes.literal(name, name))
            term += nodes.Text(f" ({', '.join(sorted(users[name]))})")
            definition = nodes.definition()
            for paragraph in hooks[name].doc.strip().split("\n\n"):
                text = " ".join(paragraph.split())
                definition += nodes.paragraph(text, text)
            item = nodes.definition_list_item()
            item += term
            item += definition
            out.append(item)
        listing = nodes.definition_list()
        listing.extend(out)
        return [listing]


class MessageList(Directive):
    """Every message oauthkit can show (:mod:`oauthkit_messages`), grouped by the error that
    carries it, each group under the error's own description."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from oauthkit_messages import COMMAND, messages

        from oauthkit import errors

        document = self.state.document
        groups: dict[str, list[str]] = {}
        for message in messages():
            groups.setdefault(message.kind, []).append(message.text)
        out: list[nodes.Node] = []
        for kind in sorted(groups, key=lambda k: (k != COMMAND, k.lower())):
            cls = getattr(errors, kind, None)
            about = (cls.__doc__ or "").strip().split("\n\n")[0] if cls is not None else ""
            children: list[nodes.Node] = []
            if kind == COMMAND:
                about = "The command's own failures (exit status 1, 2 or as the message says)."
            if about:
                text = " ".join(about.split())
                children.append(nodes.paragraph(text, text))
            listing = nodes.bullet_list()
            for text in groups[kind]:
                item = nodes.list_item()
                item += nodes.paragraph("", "", nodes.literal(text, text))
                listing += item
            children.append(listing)
            out.append(_section(document, kind, *children))
        return out


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("oauthkit-command", CommandReference)
    app.add_directive("oauthkit-presets", PresetTable)
    app.add_directive("oauthkit-hooks", HookList)
    app.add_directive("oauthkit-messages", MessageList)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
