"""`motcua service install`: write the systemd unit (Linux) or WinSW config (Windows) for this machine.

Templates live in service_files/ (in the source tree, or installed under
<prefix>/share/motcua/service_files). Placeholders: @MOTCUA@ (absolute
command), @DATA@ (data directory), @USER@ (service account), @STATE_NAME@
(systemd StateDirectory, when the data directory is under /var/lib).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from agent.errors import InputError
from sync_protocol.castore import write_file_atomic

TEMPLATES = {("agent", "linux"): "motcua-agent.service", ("hub", "linux"): "motcua-hub.service",
             ("agent", "windows"): "motcua-agent.xml"}
DEFAULT_DATA = {("agent", "linux"): "/var/lib/motcua", ("hub", "linux"): "/var/lib/motcua-hub",
                ("agent", "windows"): r"C:\ProgramData\motcua"}
DEFAULT_USER = {("agent", "linux"): "motcua", ("hub", "linux"): "motcua-hub",
                ("agent", "windows"): r"NT AUTHORITY\LocalService"}


def templates_dir() -> Path:
    for candidate in (Path(__file__).resolve().parents[2] / "service_files",
                      Path(sys.prefix) / "share" / "motcua" / "service_files"):
        if candidate.is_dir():
            return candidate
    raise InputError("Không tìm thấy mẫu tệp dịch vụ (service_files).", "Service templates (service_files/) not found.",
                     "Cài lại motcua / reinstall motcua")


def current_platform() -> str:
    return "windows" if sys.platform.startswith("win") else "linux"


def motcua_command() -> str:
    """The absolute command that runs motcua on this machine."""
    found = shutil.which("motcua")
    if found:
        return str(Path(found).resolve()) if not sys.platform.startswith("win") else found
    return f"{sys.executable} -m agent.cli"


def render_service(role: str, platform_name: str = "auto", *, data_dir: str | None = None, user: str | None = None,
                   command: str | None = None) -> tuple[str, str]:
    """(file name, text) of the service definition for `role` on `platform_name`."""
    platform_name = current_platform() if platform_name == "auto" else platform_name
    key = (role, platform_name)
    if key not in TEMPLATES:
        raise InputError(f"Không có mẫu dịch vụ cho {role} trên {platform_name}.",
                         f"No service template for the {role} on {platform_name} (the hub runs on Linux).")
    data = data_dir or DEFAULT_DATA[key]
    values = {"@MOTCUA@": command or motcua_command(), "@DATA@": data, "@USER@": user or DEFAULT_USER[key]}
    text = (templates_dir() / TEMPLATES[key]).read_text("utf-8")
    if platform_name == "windows":
        values = {k: escape(v, {'"': "&quot;"}) for k, v in values.items()}
    else:
        if data.startswith("/var/lib/") and data.rstrip("/") != "/var/lib":
            values["@STATE_NAME@"] = data[len("/var/lib/"):].rstrip("/")
        else:  # StateDirectory= only names directories under /var/lib
            text = "\n".join(line for line in text.splitlines() if not line.startswith("StateDirectory")) + "\n"
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return TEMPLATES[key], text


def install_service(role: str, platform_name: str = "auto", *, dest: Path | None = None, data_dir: str | None = None,
                    user: str | None = None) -> dict[str, object]:
    """Write the definition into `dest` and return its path and the administrator's next steps."""
    platform_name = current_platform() if platform_name == "auto" else platform_name
    name, text = render_service(role, platform_name, data_dir=data_dir, user=user)
    target_dir = Path(dest) if dest else (Path("/etc/systemd/system") if platform_name == "linux" else Path.cwd())
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        path = target_dir / name
        write_file_atomic(path, text.encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise InputError(f"Không ghi được {target_dir / name} (cần quyền quản trị?).",
                         f"Cannot write {target_dir / name}: {exc.strerror} (run as administrator/root?).") from exc
    key = (role, platform_name)
    account, data = user or DEFAULT_USER[key], data_dir or DEFAULT_DATA[key]
    unit = name.removesuffix(".service")
    if platform_name == "linux":
        steps = [f"useradd --system --home-dir {data} --shell /usr/sbin/nologin {account}"]
        if role == "agent":
            steps += [f"usermod -aG scanner {account}",
                      f"sudo -u {account} env MOTCUA_HOME={data} motcua init --hub URL --token TOKEN --site \"…\""]
        steps += ["systemctl daemon-reload", f"systemctl enable --now {unit}", f"journalctl -u {unit} -f"]
        if role == "agent":
            steps.append(f"sudo -u {account} env MOTCUA_HOME={data} motcua doctor")
    else:
        steps = [f"copy WinSW-x64.exe {target_dir}\\motcua-agent.exe", f"{target_dir}\\motcua-agent.exe install",
                 f"icacls \"{data}\" /grant \"{account}\":(OI)(CI)M", f"{target_dir}\\motcua-agent.exe start"]
    return {"path": str(path), "platform": platform_name, "role": role, "next_steps": steps}
