"""Test helpers shared by the suite: service checks, a REST client, a subprocess server."""
