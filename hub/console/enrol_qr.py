"""An enrolment token as a QR code the desk scans: the token, the hub URL and the hub key id.

The payload is canonical JSON `{"schema": "motcua.enrol/1", "hub": URL, "hub_key_id": ID,
"site": NAME, "agency": CODE, "token": TOKEN}`; the desk can pin the key id before it
first talks to the hub. The SVG is made by the `qrcode` library (path image, no raster).
"""
from __future__ import annotations

import io
import json
from typing import Any

import qrcode
import qrcode.image.svg

SCHEMA = "motcua.enrol/1"


def enrolment_payload(hub_url: str, hub_key_id: str, site: str, agency_code: str, token: str) -> str:
    data: dict[str, Any] = {"schema": SCHEMA, "hub": hub_url.rstrip("/"), "hub_key_id": hub_key_id, "site": site,
                            "agency": agency_code, "token": token}
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def qr_svg(payload: str) -> str:
    """The payload as an inline SVG QR code (error correction M, 4-module quiet zone)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    svg = out.getvalue().decode("utf-8")
    return svg[svg.index("<svg"):]  # drop the XML declaration: the SVG is embedded in HTML
