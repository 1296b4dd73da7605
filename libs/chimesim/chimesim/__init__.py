"""A local Amazon Chime SDK endpoint: meetings and media pipelines over botocore's REST-JSON.

`chimesim.app.build_app(settings, clock)` is the ASGI application; `python -m chimesim`
serves it; `chimesim.testing` holds the pytest fixtures.
"""
