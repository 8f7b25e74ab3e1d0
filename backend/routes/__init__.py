"""HTTP routers, one module per resource, thin over ``backend.queries`` and ``backend.frames``."""
