"""What can go wrong with the engine, as the rest of the project sees it: web code catches these
without importing the engine (or the Docker SDK) itself."""


class EngineUnavailable(Exception):
    """The Docker Engine could not be reached (stopped, restarting, or hung)."""


class EngineError(Exception):
    """The Docker Engine answered with an error."""
