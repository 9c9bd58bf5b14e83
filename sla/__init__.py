"""Service levels as code: the SLA document generated from `continuity:sla` (and, to come, the
monthly report and its alerts)."""
