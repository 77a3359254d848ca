"""nginx (Debian's package) in front of two hub instances; one instance is killed mid-burst.

The configuration is the one docs/operations.md gives an administrator:
round-robin over two `motcua hub serve` instances sharing PostgreSQL,
SeaweedFS and the hub keys; passive health checks (`max_fails`,
`fail_timeout`) and `proxy_next_upstream error timeout http_502 http_503`,
which is what open-source nginx offers (active `/readyz` polling needs nginx
Plus or HAProxy). nginx moves a request to the other instance when it could
not be sent (connection refused); a POST/PATCH already sent to the instance
that died is *not* re-sent (no `non_idempotent`): it would carry the same
signature nonce, which the shared replay cache refuses (401 "replayed
request"). The desk gets a 502 instead and retries with a fresh signature.

Eight desks sync three dossiers each through nginx; once commits are flowing
one instance gets SIGKILL. The desks simply keep syncing (as their daemon
does) — no officer action — and every dossier must be committed exactly once
with a receipt that verifies, nothing in the rejected lane.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.sealing.seal import seal_all
from agent.delivery.sync import sync_once
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

from .conftest import SITE, HubProcess
from .fixtures_servers import *  # noqa: F401,F403
from .fixtures_servers import free_port, quick_dossier

pytestmark = [pytest.mark.timeout(420),
              pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                                 reason="nginx is not installed (Debian package nginx; `make deps`)")]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DESKS, PER_DESK = 8, 3

NGINX_CONF = """
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 20m;
    upstream motcua_hub {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=10s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=10s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://motcua_hub;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, work: Path, upstreams: list[int]):
        self.dir, self.port = work, free_port()
        work.mkdir(parents=True)
        # as root the workers would drop to `nobody`, who cannot write request bodies into the test's 0700 tmp dir
        user = "user root;" if os.geteuid() == 0 else ""
        (work / "nginx.conf").write_text(NGINX_CONF.format(user=user, dir=work, a=upstreams[0], b=upstreams[1],
                                                           port=self.port))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        conf = str(self.dir / "nginx.conf")
        checked = subprocess.run([NGINX, "-t", "-c", conf, "-p", str(self.dir)], capture_output=True, text=True,
                                 timeout=30)
        assert checked.returncode == 0, checked.stderr
        self.proc = subprocess.Popen([NGINX, "-c", conf, "-p", str(self.dir), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


def _committed(pg_url: str) -> list[tuple]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT dossier_id, hub_sequence, receipt FROM dossiers").fetchall()


def test_one_instance_killed_mid_burst_behind_nginx_every_dossier_committed_once(tmp_path, pg_url, s3_url, monkeypatch):
    env = {"MOTCUA_HUB_DATABASE_URL": pg_url, "MOTCUA_HUB_OBJECT_STORE": s3_url}
    for name, value in env.items():  # for `motcua hub token`
        monkeypatch.setenv(name, value)
    data = tmp_path / "hub"  # both instances sign with the same hub keys
    hubs = [HubProcess(data, extra_env=env).start(), HubProcess(data, extra_env=env).start()]
    proxy = Nginx(tmp_path / "nginx", [h.port for h in hubs]).start()
    try:
        homes = [tmp_path / f"desk{n}" for n in range(DESKS)]
        for home in homes:
            ctx = AgentContext.open(home)
            enrol(ctx, proxy.url, hubs[0].token(), SITE)
            for _ in range(PER_DESK):
                quick_dossier(ctx, size=200_000)
            seal_all(ctx)
            ctx.close()

        stop = threading.Event()

        def keep_syncing(home: Path) -> list[str]:
            """What the desk daemon does: sync, and after a failure sync again — no one intervenes."""
            ctx = AgentContext.open(home)
            try:
                for _ in range(60):
                    report = sync_once(ctx)
                    assert report.rejected == [], report.to_json()
                    if not ctx.outbox.deliverable():
                        return [d.id for d in ctx.outbox.list()]
                    time.sleep(0.5)
                raise AssertionError(f"{home.name} still has dossiers to deliver")
            finally:
                ctx.close()

        def kill_when_commits_flow() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not stop.is_set():
                if len(_committed(pg_url)) >= 3:
                    hubs[0].proc.kill()  # SIGKILL mid-burst: in-flight uploads and commits die with it
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_when_commits_flow)
        killer.start()
        with ThreadPoolExecutor(DESKS) as pool:
            delivered = [d for ids in pool.map(keep_syncing, homes) for d in ids]
        stop.set()
        killer.join()
        assert hubs[0].proc.wait(timeout=30) == -9, "the instance was not killed during the burst"
        total = DESKS * PER_DESK
        assert len(delivered) == len(set(delivered)) == total
        rows = _committed(pg_url)
        assert len(rows) == total and {r[0] for r in rows} == set(delivered)  # each exactly once
        assert len({r[1] for r in rows}) == total  # unique hub sequence numbers
        receipts = {r[0]: r[2] for r in rows}
        for home in homes:  # the hub's one receipt per dossier verifies against the key the desk pinned
            ctx = AgentContext.open(home)
            try:
                for dossier in ctx.outbox.list():
                    assert dossier.state in ("committed", "purged")
                    receipt = Envelope.from_dict(json.loads(receipts[dossier.id]))
                    assert verify_receipt(receipt, ctx.hub_key, dossier.manifest_hash).dossier_id == dossier.id
            finally:
                ctx.close()
        assert requests.get(proxy.url + "/readyz", timeout=10).status_code == 200  # the survivor serves
        assert "Traceback" not in hubs[1].log_text()
    finally:
        proxy.stop()
        for h in hubs:
            h.stop()
