"""The `motcua` command: click groups that only parse arguments, call the library and print.

May import anything in agent/ (and hub.cli for the `motcua hub` group); nothing imports it.
"""
from agent.cli.main import main

__all__ = ["main"]
