"""The engine (backward), grad modes, functional transforms and checking tools."""
