"""Desk workflows: intake, procedure catalogue, calendar and due dates, slips, citizen notifications, courier tasks.

They subscribe to delivery's status events (`agent.desk.workflows.subscribe()`), never the other way round.
May import: the kernel, outbox, capture, sealing, delivery (its event and job registries), ops.
"""
