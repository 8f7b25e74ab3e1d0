"""The API server, the projection math and the projector worker (never imports torch)."""
