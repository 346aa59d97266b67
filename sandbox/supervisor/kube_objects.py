"""A student's pods and workloads on the cluster, for their instructor's view.

Asked through the supervisor: the admin credentials stay on its side (sandbox/kube.py), and a
web worker only ever gets plain rows back.
"""

from __future__ import annotations

import asyncio
import logging

from sandbox import kube, seam

log = logging.getLogger(__name__)


async def request_objects(owner_id: int) -> dict:
    """{configured, unavailable, namespace, exists, asleep, pods, workloads} (see
    kube.student_objects); EngineUnavailable when the supervisor is away."""
    return await seam.ask("kube.objects", owner_id=owner_id)


async def on_objects(owner_id: int) -> dict:
    if not kube.configured():
        return {"configured": False}
    try:
        objects = await asyncio.to_thread(kube.student_objects, int(owner_id))
    except kube.ClusterUnavailable as error:
        log.warning("kubernetes objects of %s: %s", owner_id, error)
        return {"configured": True, "unavailable": True}
    return {"configured": True, "unavailable": False, **objects}
