"""Every code block of the README and the docs runs, or says why not (issue 15, item 3).

Each page with Python or shell blocks is run by ``run_page.py`` in a fresh folder with its own
HOME, XDG folders and no configuration, against the sandbox the page starts (or the
documented peers: ``$MCP_URL`` (an MCP server built with the ``mcp`` package, protected by
oidc-provider with open registration), ``$OIDC_ISSUER`` (oidc-provider, with its ``service``
client as ``$SERVICE_CLIENT_ID``/``$SERVICE_CLIENT_SECRET``), ``$FAPI_ISSUER`` (its FAPI 2.0
profile over https), ``$CIBA_ISSUER`` (CIBA, with a "phone" that approves), ``$REDIS_URL`` and
``$DATABASE_URL``, ``$REDIS_CLUSTER_URL`` and ``$POOLED_DATABASE_URL`` (through PgBouncer)
for the pages that use them), with the real-browser user
(``tests/cli/browser_user.sh``) as ``$BROWSER``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import tomllib
import uuid
from pathlib import Path

import pytest
from blocks import CHECKED, LISTINGS, ROOT, Block, blocks, pages

from oauthkit.config.file import load_config
from oauthkit.config.provider import ResolvedProvider

RUNNER = Path(__file__).with_name("run_page.py")
BROWSER = ROOT / "tests" / "cli" / "browser_user.sh"

ALL = [(page, block) for page in pages() for block in blocks(page)]
RUN_PAGES = [
    page
    for page in pages()
    if any(b.language in ("python", "sh") and b.marker is None for b in blocks(page))
]


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_every_block_is_checked_or_says_why() -> None:
    unknown = [b.where for _, b in ALL if b.language not in CHECKED | LISTINGS and b.marker is None]
    assert not unknown, f"blocks in a language the tests do not check: {unknown}"
    silent = [b.where for _, b in ALL if b.marker == "not run" and len(b.value) < 10]
    assert not silent, f"'not run' blocks that do not say why: {silent}"
    running = [b for _, b in ALL if b.language in ("python", "sh") and b.marker is None]
    assert len(running) >= 40, "the docs lost their examples"


@pytest.mark.parametrize("block", [b for _, b in ALL if b.marker == "excerpt"], ids=str)
def test_an_excerpt_matches_its_source(block: Block) -> None:
    source = (ROOT / block.value).read_text(encoding="utf-8").splitlines()
    position = 0
    for line in filter(str.strip, block.code.splitlines()):
        wanted = line.split("  #")[0].rstrip()
        while position < len(source) and source[position].split("  #")[0].rstrip() != wanted:
            position += 1
        assert position < len(source), f"{block.where}: {line.strip()!r} not in {block.value}"
        position += 1


@pytest.mark.parametrize(
    "block", [b for _, b in ALL if b.language == "toml" and b.marker is None], ids=str
)
def test_a_configuration_example_is_read_by_the_command(block: Block, tmp_path: Path) -> None:
    tomllib.loads(block.code)
    path = tmp_path / "config.toml"
    path.write_text(block.code, encoding="utf-8")
    path.chmod(0o600)
    config = load_config(path)
    for table in config.providers.values():
        provider = ResolvedProvider(table)
        assert provider.type in ("oauth1", "oauth2"), block.where


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop_background(listing: Path) -> None:
    """Servers a page started in the background, if its runner did not stop them."""
    if not listing.exists():
        return
    for line in listing.read_text().split():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(line), signal.SIGKILL)


def _fapi_server(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """``$FAPI_ISSUER``: oidc-provider's FAPI 2.0 profile over https (tests/oauth2/fapi_peer.py);
    its CA trusted through ``$SSL_CERT_FILE`` and by Chromium; the client key as a PEM file."""
    from joserfc.jwk import RSAKey

    from oauth2.fapi_peer import CLIENT_KEY, start_fapi

    peer = start_fapi(request.getfixturevalue("start_oidc"))
    assert peer.tls is not None
    key_file = tmp_path / "fapi-key.pem"
    key_file.write_bytes(RSAKey.import_key(CLIENT_KEY).as_pem(private=True))
    key_file.chmod(0o600)
    return {
        "FAPI_ISSUER": peer.issuer,
        "FAPI_KEY_FILE": str(key_file),
        "SSL_CERT_FILE": str(peer.tls.ca_cert),
        "BROWSER_TRUST_SPKI": peer.tls.server_spki(),
    }


def _ciba_server(request: pytest.FixtureRequest) -> dict[str, str]:
    """``$CIBA_ISSUER``: oidc-provider with CIBA (poll mode, client ``ciba``) and a "phone"
    that approves every request as soon as it is pending, for as long as the page runs."""
    from oauthkit.protocol.oauth2.ciba import CIBA_GRANT

    secret = "ciba-docs-secret-0123456789"
    peer = request.getfixturevalue("start_oidc")(
        ciba=True,
        clients={
            "ciba": {
                "grant_types": [CIBA_GRANT],
                "response_types": [],
                "client_secret": secret,
                "token_endpoint_auth_method": "client_secret_basic",
                "scope": "openid profile",
                "backchannel_token_delivery_mode": "poll",
            }
        },
    )
    done = threading.Event()

    def phone() -> None:
        while not done.wait(0.1):
            with contextlib.suppress(Exception):
                for pending in peer.ciba_pending():
                    peer.ciba_decide(pending["auth_req_id"], approve=True)

    threading.Thread(target=phone, daemon=True).start()
    request.addfinalizer(done.set)
    return {"CIBA_ISSUER": peer.issuer, "CIBA_CLIENT_SECRET": secret}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", RUN_PAGES, ids=_id)
def test_the_page_runs(page: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    text = page.read_text(encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            (
                "OAUTHKIT",
                "XDG_",
                "BROWSER",
                "REDIS_URL",
                "REDIS_CLUSTER_URL",
                "DATABASE_URL",
                "POOLED_DATABASE_URL",
                "OIDC",
                "MCP_URL",
            )
        )
    }
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        BROWSER=str(BROWSER),
        BROWSER_LOG=str(tmp_path / "browser.log"),
        OAUTHKIT_TEST_PYTHON=sys.executable,
        PYTHONPATH=str(ROOT / "examples"),
    )
    if "OIDC_ISSUER" in text:
        from peers.oidc_provider import SERVICE_SECRET

        env["OIDC_ISSUER"] = request.getfixturevalue("oidc_provider").issuer
        env.update(SERVICE_CLIENT_ID="service", SERVICE_CLIENT_SECRET=SERVICE_SECRET)
    if "MCP_URL" in text:
        from peers.mcp_server import reserve_url, start_mcp_server
        from peers.oidc_provider import SERVICE_SECRET

        url = reserve_url()
        peer = request.getfixturevalue("start_oidc")(
            registration=True, resources={url: "mcp:tools"}
        )
        mcp = start_mcp_server(url, peer.issuer, ("service", SERVICE_SECRET), tmp_path / "mcp.log")
        request.addfinalizer(mcp.stop)
        env["MCP_URL"] = url
    if "FAPI_ISSUER" in text:
        env.update(_fapi_server(request, tmp_path))
    if "CIBA_ISSUER" in text:
        env.update(_ciba_server(request))
    if "REDIS_URL" in text:
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    if "REDIS_CLUSTER_URL" in text:
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        env["REDIS_CLUSTER_URL"] = cluster.url
    if "POOLED_DATABASE_URL" in text:
        pooler = request.getfixturevalue("pgbouncer")
        env["POOLED_DATABASE_URL"] = pooler.create_database(f"docs_{uuid.uuid4().hex[:12]}")
    if "DATABASE_URL" in text:
        postgres = request.getfixturevalue("postgres")
        env["DATABASE_URL"] = postgres.create_database(f"docs_{uuid.uuid4().hex[:12]}")
    env["DOCS_SANDBOX_PORT"] = str(_free_port())
    work = tmp_path / "work"
    work.mkdir()
    try:
        result = subprocess.run(
            [sys.executable, str(RUNNER), str(page)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=840,
            check=False,
        )
    finally:
        _stop_background(work / "background-groups.txt")
    if result.returncode != 0:
        browser = tmp_path / "browser.log"
        log = browser.read_text() if browser.exists() else ""
        pytest.fail(
            f"{_id(page)} failed:\n{result.stdout[-8000:]}\n{result.stderr[-4000:]}\n{log}",
            pytrace=False,
        )
