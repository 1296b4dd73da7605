"""Response and entity caching of public data, invalidated exactly by our own services' events.

`policy` decides what is public and where the watched entities sit in an answer,
`store` keeps values under the tags of those entities (whole encoded answers in the
response cache), `entities` keeps single entities' answers across requests, `feed`
follows the events that drop them, and `public` is what the HTTP server asks.
"""
