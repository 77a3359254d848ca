"""Enrolment failures: an officer types `motcua init` with a bad token.

Each refusal must be readable at the desk (Vietnamese, then English), exit
non-zero without a traceback, leave the desk not enrolled and the hub without a
new device — and a token refused for the wrong site must still be usable.
"""
from __future__ import annotations

import time

import pytest

from agent.config import AgentConfig

from .conftest import SITE, HubProcess, assert_clean_failure, free_port, run_motcua


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory):
    """One hub for this module: these tests only enrol."""
    server = HubProcess(tmp_path_factory.mktemp("enrol") / "hub").start()
    yield server
    server.stop()


def init(hub: HubProcess, home, token: str, site: str = SITE):
    return run_motcua("init", "--hub", hub.url, "--token", token, "--site", site, home=home)


def devices(hub: HubProcess) -> int:
    return hub.sql("SELECT COUNT(*) FROM devices")[0][0]


def assert_not_enrolled(home) -> None:
    assert not AgentConfig.load(home).enrolled
    # And every command that needs an identity says so instead of failing later.
    assert_clean_failure(run_motcua("sync", home=home), "chưa được đăng ký", "not enrolled", exit_code=1)


def test_unknown_token_is_refused(shared_hub, tmp_path):
    before = devices(shared_hub)
    result = init(shared_hub, tmp_path / "a", "mct_thisTokenWasNeverIssuedByTheHub0")
    assert_clean_failure(result, "Đăng ký không thành công", "Mã đăng ký không tồn tại",
                         "Enrolment failed", "unknown enrolment token", "motcua hub token")
    assert_not_enrolled(tmp_path / "a")
    assert devices(shared_hub) == before


def test_expired_token_is_refused(shared_hub, tmp_path):
    token = shared_hub.token(ttl_hours=0)
    time.sleep(1.1)  # expiry has one-second resolution: now the token is strictly past its end
    before = devices(shared_hub)
    result = init(shared_hub, tmp_path / "a", token)
    assert_clean_failure(result, "Mã đăng ký đã hết hạn", "token has expired")
    assert_not_enrolled(tmp_path / "a")
    assert devices(shared_hub) == before


def test_reused_token_is_refused_and_first_desk_keeps_its_identity(shared_hub, tmp_path):
    token = shared_hub.token()
    assert init(shared_hub, tmp_path / "first", token).returncode == 0
    first = AgentConfig.load(tmp_path / "first")
    before = devices(shared_hub)

    result = init(shared_hub, tmp_path / "second", token)
    assert_clean_failure(result, "Mã đăng ký đã được sử dụng", "already used")
    assert_not_enrolled(tmp_path / "second")
    assert devices(shared_hub) == before
    assert AgentConfig.load(tmp_path / "first").device_id == first.device_id


def test_token_for_another_site_is_refused_but_not_burnt(shared_hub, tmp_path):
    token = shared_hub.token(site="UBND phường Bến Thành")
    before = devices(shared_hub)
    result = init(shared_hub, tmp_path / "a", token, site="UBND xã Tân Phú")
    assert_clean_failure(result, "Mã đăng ký dành cho điểm", "UBND phường Bến Thành", "UBND xã Tân Phú",
                         "this token is for site")
    assert_not_enrolled(tmp_path / "a")
    assert devices(shared_hub) == before

    # The typo did not spend the token: the same desk enrols with the right site name.
    retry = run_motcua("init", "--hub", shared_hub.url, "--token", token, "--site", "ubnd phường bến thành",
                       "--json", home=tmp_path / "a")
    assert retry.returncode == 0, retry.stderr
    assert AgentConfig.load(tmp_path / "a").site == "UBND phường Bến Thành"
    assert devices(shared_hub) == before + 1


def test_enrolling_twice_is_refused_without_touching_the_identity(shared_hub, tmp_path):
    assert init(shared_hub, tmp_path / "a", shared_hub.token()).returncode == 0
    identity = (tmp_path / "a" / "config.json").read_bytes()
    key = (tmp_path / "a" / "device_key.pem").read_bytes()
    result = init(shared_hub, tmp_path / "a", shared_hub.token())
    assert_clean_failure(result, "Máy này đã đăng ký", "already enrolled")
    assert (tmp_path / "a" / "config.json").read_bytes() == identity
    assert (tmp_path / "a" / "device_key.pem").read_bytes() == key


@pytest.mark.parametrize("url,expected", [
    ("hub.example:8470", "is not http(s)://"),
    (None, "Cannot reach the hub"),  # nothing listens on the port
])
def test_bad_or_unreachable_hub_url(shared_hub, tmp_path, url, expected):
    url = url or f"http://127.0.0.1:{free_port()}"
    result = run_motcua("init", "--hub", url, "--token", shared_hub.token(), "--site", SITE, home=tmp_path / "a")
    assert_clean_failure(result, expected)
    assert not AgentConfig.load(tmp_path / "a").enrolled
