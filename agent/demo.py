"""The README's demo: hub + agent + one scanned dossier delivered end to end.

Runs the real `motcua` CLI: starts a hub on 127.0.0.1, makes a one-time token,
enrols a desk, imports generated sample pages as a dossier, seals it, syncs
it, verifies the hub's receipt against the pinned key, asks the hub for the
dossier's status and stops the hub. Everything lives under ./demo-data (wiped
at start). Uses SANE's test scanner if `scanimage` is installed.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from agent.capture.sample_pages import sample_dossier
from sync_protocol.keys import public_key_from_text
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

AGENCY = "000.00.01.H29"
SITE = "UBND xã Mẫu (demo)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def motcua(*args: str, env: dict[str, str]) -> str:
    print(f"$ motcua {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "agent.cli", *args], env=env, text=True, capture_output=True)
    if result.stdout.strip():
        print(result.stdout.rstrip())
    if result.returncode != 0:
        print(result.stderr.rstrip(), file=sys.stderr)
        raise SystemExit(f"demo step failed: motcua {' '.join(args)} (exit {result.returncode})")
    return result.stdout


def wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"hub did not start at {url}")


def main() -> None:
    root = Path("demo-data").resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MOTCUA_HOME": str(root / "agent"), "MOTCUA_HUB_DATA": str(root / "hub")}
    print(f"== 1. Trung tâm / hub on {hub_url}")
    hub = subprocess.Popen([sys.executable, "-m", "agent.cli", "hub", "serve", "--port", str(port),
                            "--log-level", "warning"], env=env)
    try:
        wait_for(hub_url + "/v1/hello")
        print("== 2. Mã đăng ký một lần / one-time enrolment token")
        token = motcua("hub", "token", "--site", SITE, "--agency", AGENCY, env=env).strip()
        print("== 3. Đăng ký máy / enrol the desk")
        motcua("init", "--hub", hub_url, "--token", token, "--site", SITE, env=env)
        print("== 4. Quét / scan (generated sample pages)")
        pages = sample_dossier(root / "scans")
        motcua("import", *map(str, pages), "--procedure", "1.001193", "--channel", "postal", env=env)
        print("== 5. Niêm phong / seal")
        motcua("seal", env=env)
        print("== 6. Đồng bộ / sync")
        motcua("sync", env=env)
        print("== 7. Biên nhận / receipt")
        rows = json.loads(motcua("queue", "--json", env=env))
        config = json.loads((root / "agent" / "config.json").read_text())
        dossier = rows[0]
        conn_receipt = _receipt(root / "agent" / "outbox.db", dossier["id"])
        receipt = verify_receipt(Envelope.from_dict(conn_receipt["receipt"]),
                                 public_key_from_text(config["hub_public_key"]), conn_receipt["manifest_hash"])
        print(f"receipt verifies against pinned hub key {config['hub_key_id']}: "
              f"hub_sequence={receipt.hub_sequence} received_at={receipt.received_at} "
              f"manifest={receipt.manifest_hash[:16]}…")
        print("== 8. Trạng thái tại trung tâm / status at the hub")
        motcua("status", dossier["code"], env=env)
        print("\nDemo OK: hồ sơ đã đến trung tâm đúng một lần / the dossier reached the hub exactly once.")
    finally:
        hub.terminate()
        hub.wait(timeout=20)


def _receipt(db_path: Path, dossier_id: str) -> dict:
    import sqlite3

    conn = sqlite3.connect(db_path)
    row = conn.execute("SELECT receipt, manifest_hash FROM dossiers WHERE id=?", (dossier_id,)).fetchone()
    conn.close()
    return {"receipt": json.loads(row[0]), "manifest_hash": row[1]}


if __name__ == "__main__":
    main()
