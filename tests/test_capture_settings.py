"""Desk settings reach the capture pipeline: the text-page resolution (settings.text_page_dpi)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.capture.files import pipeline_options
from agent.context import AgentContext
from agent.errors import InputError


def desk(home: Path, **settings: object) -> AgentContext:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps({"settings": settings}), "utf-8")
    return AgentContext.open(home)


def test_text_pages_are_stored_at_200_dpi_unless_the_desk_says_otherwise(tmp_path):
    assert pipeline_options(desk(tmp_path / "default")).encode.bilevel_dpi == 200
    assert pipeline_options(desk(tmp_path / "full", text_page_dpi=300)).encode.bilevel_dpi == 300


@pytest.mark.parametrize("dpi", [50, 1200])
def test_an_impossible_text_page_resolution_is_a_clear_error(tmp_path, dpi):
    with pytest.raises(InputError) as caught:
        pipeline_options(desk(tmp_path, text_page_dpi=dpi))
    assert "text_page_dpi" in caught.value.message_vi and "150–600" in caught.value.message_en
