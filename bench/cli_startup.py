"""Start-up cost of ``oauthkit token NAME`` with a fresh token, next to ``python -c "import
httpx2"`` in the same run. The bar: at most half of the httpx2 import.

    python bench/cli_startup.py [--quick]

The token is put in a real SQLite store in a temporary data folder; both commands run as new
processes, alternately, and the best of many runs counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from oauthkit import Token
from oauthkit.stores import SQLiteStore


def best(command: list[str], env: dict[str, str], runs: int) -> float:
    fastest = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        fastest = min(fastest, time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{command} failed: {done.stderr.decode()}")
    return fastest


def main() -> int:
    runs = 10 if "--quick" in sys.argv else 40
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
        }
        config = home / "config" / "oauthkit" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text('[providers.bench]\nissuer = "https://id.example"\nclient_id = "b"\n')
        store = SQLiteStore(home / "data" / "oauthkit" / "tokens.sqlite3")
        now = datetime.now(UTC)
        store.put(
            "bench",
            Token(
                "fresh-access-token",
                issued_at=now,
                expires_at=now + timedelta(hours=1),
                refresh_token="r",
            ),
        )
        script = Path(sys.executable).with_name("oauthkit")
        token = [str(script)] if script.exists() else [sys.executable, "-m", "oauthkit.cli"]
        token += ["token", "bench"]
        printed = subprocess.run(token, env=env, capture_output=True, text=True, check=True)
        assert printed.stdout.strip() == "fresh-access-token", printed
        httpx = [sys.executable, "-c", "import httpx2"]
        bare = [sys.executable, "-c", "pass"]
        ours = best(token, env, runs)
        theirs = best(httpx, env, runs)
        python = best(bare, env, runs)
    print(f"python -c pass            {python * 1000:6.1f} ms")
    print(f'python -c "import httpx2"  {theirs * 1000:6.1f} ms')
    print(
        f"oauthkit token NAME       {ours * 1000:6.1f} ms  ({ours / theirs:.2f} of the httpx2 "
        f"import; bar 0.50: {'ok' if ours <= theirs / 2 else 'BELOW'})"
    )
    return 0 if ours <= theirs / 2 else 1


if __name__ == "__main__":
    sys.exit(main())
