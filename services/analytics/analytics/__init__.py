"""RealtyForYou analytics: the tracking plan, events from the services and the frontends."""
