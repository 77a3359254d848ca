"""`python -m agent.cli` = the `motcua` command."""
from agent.cli.main import main

main()
