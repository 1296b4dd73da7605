"""Edge security: everything the gateway checks about a request before planning it."""
