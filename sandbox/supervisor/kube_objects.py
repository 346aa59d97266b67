"""A student's pods and workloads on the cluster, for their instructor's view: the supervisor's
answer to sandbox/api/kube_objects.py, with the admin credentials of sandbox/kube.py."""

from __future__ import annotations

import asyncio
import logging

from sandbox import kube

log = logging.getLogger(__name__)


async def on_objects(owner_id: int) -> dict:
    if not kube.configured():
        return {"configured": False}
    try:
        objects = await asyncio.to_thread(kube.student_objects, int(owner_id))
    except kube.ClusterUnavailable as error:
        log.warning("kubernetes objects of %s: %s", owner_id, error)
        return {"configured": True, "unavailable": True}
    return {"configured": True, "unavailable": False, **objects}
