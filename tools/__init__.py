"""Tooling outside the apps: benches, the one-machine cluster, a simulated student."""
