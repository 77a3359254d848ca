"""Capture: turn scanner batches, hot-folder files and imported files into captured dossiers in the outbox.

Owns page intake and stack splitting on the agent side (page processing itself is in `scanners/`).
May import: the kernel (agent.errors/config/context/crashpoints), agent.outbox, agent.ops, scanners.
"""
