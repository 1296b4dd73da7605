"""Response caching of public data, invalidated exactly by our own services' events.

`policy` decides what is public and where the watched entities sit in an answer,
`store` keeps encoded answers under the tags of those entities, `feed` follows the events
that drop them, and `public` is what the HTTP server asks.
"""
