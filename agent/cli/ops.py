"""`motcua doctor`, `motcua metrics`, `motcua service install`: operations commands,
thin wrappers over agent.ops.doctor, agent.ops.metrics and agent.service."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from agent.cli.support import agent_context as _ctx
from agent.cli.support import handles_errors, json_option


@click.command("doctor")
@click.option("--no-scanner", is_flag=True, help="Skip the scanner check (courier laptops, servers).")
@json_option
@click.pass_context
@handles_errors
def doctor(ctx: click.Context, no_scanner: bool, as_json: bool) -> None:
    """Check this desk: hub, TLS, clock, device, disk, scanner, queue, rejected dossiers.

    Kiểm tra máy: kết nối trung tâm, chứng chỉ, đồng hồ, ổ đĩa, máy quét, hàng đợi.
    Exit status: 0 all ok, 1 warnings, 2 failures.  Example: motcua doctor
    """
    from agent.ops.doctor import run_doctor

    report = run_doctor(_ctx(ctx), scanner=not no_scanner)
    click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2) if as_json else report.text())
    sys.exit(report.exit_code)


@click.command("metrics")
@click.option("--textfile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this .prom file (node_exporter textfile collector) instead of printing.")
@json_option
@click.pass_context
@handles_errors
def metrics(ctx: click.Context, textfile: Path | None, as_json: bool) -> None:
    """Print queue depth by state, oldest unsent age and last sync as Prometheus text.

    Example: motcua metrics --textfile /var/lib/node_exporter/textfile/motcua.prom
    """
    from agent.ops.metrics import prometheus_text, read_health, write_textfile

    agent = _ctx(ctx)
    health = read_health(agent.config.db_path)
    if textfile is not None:
        write_textfile(textfile, health, agent.config.site)
    elif as_json:
        click.echo(json.dumps(health.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(prometheus_text(health, agent.config.site), nl=False)


@click.group("service")
def service() -> None:
    """Install motcua as a system service (systemd on Linux, WinSW on Windows)."""


@service.command("install")
@click.option("--role", type=click.Choice(["agent", "hub"]), default="agent", show_default=True)
@click.option("--platform", "platform_name", type=click.Choice(["auto", "linux", "windows"]), default="auto",
              show_default=True)
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory to write into (default /etc/systemd/system, or the current directory on Windows).")
@click.option("--data", "data_dir", default=None, help="Data directory (default /var/lib/motcua[-hub]).")
@click.option("--user", "user", default=None, help="Service account (default motcua / motcua-hub).")
@click.option("--dry-run", is_flag=True, help="Print the file instead of writing it.")
@json_option
@handles_errors
def service_install(role: str, platform_name: str, dest: Path | None, data_dir: str | None, user: str | None,
                    dry_run: bool, as_json: bool) -> None:
    """Write the service definition for this platform and print the next steps.

    Cài đặt dịch vụ chạy nền.  Example: sudo motcua service install --role agent
    """
    from agent.ops.service import install_service, render_service

    if dry_run:
        name, text = render_service(role, platform_name, data_dir=data_dir, user=user)
        click.echo(text, nl=False)
        return
    result = install_service(role, platform_name, dest=dest, data_dir=data_dir, user=user)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else
               f"Đã ghi / wrote {result['path']}\nTiếp theo / next steps:\n  " + "\n  ".join(result["next_steps"]))


COMMANDS = [doctor, metrics, service]
