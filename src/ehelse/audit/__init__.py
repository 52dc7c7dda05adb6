"""The audit trail: an AuditEvent for every access to patient data, hash-chained.

    events.py   the AuditEvent of one access (who, on behalf of whom, organisation, purpose,
                what, when, outcome), one per patient touched
    trail.py    AuditTrail: appends records durably (group commit), one hash chain per process
    verify.py   `ehelse audit verify`: every chain checked, breaks reported precisely
    report.py   the privacy officer's follow-up and the citizen's "who has looked at my record"
"""
