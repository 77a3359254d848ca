"""Delivery: move bytes and events between the desk and the hub — enrolment, sync, feed, bundles, envelopes, runner.

Knows nothing of desk workflows: status events are recorded and published to subscribers (status_events), and signed
envelopes are uploaded for whoever registered a job (envelopes). May import: the kernel, outbox, sealing, ops.
"""
