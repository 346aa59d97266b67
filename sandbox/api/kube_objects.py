"""A student's pods and workloads on the cluster, for their instructor's view, as web code asks
for them. The admin credentials stay on the supervisor's side (sandbox/supervisor/kube_objects.py,
sandbox/kube.py); a web worker only ever gets plain rows back."""

from __future__ import annotations

from sandbox import seam


async def request_objects(owner_id: int) -> dict:
    """{configured, unavailable, namespace, exists, asleep, pods, workloads} (see
    kube.student_objects); EngineUnavailable when the supervisor is away."""
    return await seam.ask("kube.objects", owner_id=owner_id)
