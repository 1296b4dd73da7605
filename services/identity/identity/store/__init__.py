"""Every SQL statement of identity that writes, inside a unit of work: one module per part.

`users` (accounts, tracked so their events reach the outbox; sign-in counters),
`credentials` (sessions, refresh tokens, emailed one-time tokens), `signing_keys` and
`audit_log`. Each function takes the use case's unit of work; read models are in
`identity.queries`.
"""
