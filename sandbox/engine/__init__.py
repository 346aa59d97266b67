"""The only package that talks to the Docker Engine (an import contract and a ruff rule say so).

Everything else in the project sees plain functions, imported from here, and two exceptions:
EngineUnavailable (the engine cannot be reached, say so plainly and try again later) and
EngineError (it answered, but refused). Every call has a timeout, so a hung engine cannot hang a
request or a consumer.

- profile: the hardening profile (containers, swarm services, builds) and the labels;
- client: which engine a call goes to, and `call`, the one way to it;
- containers, commands (exec), networks, images, swarm: what the engine is asked.
"""

from sandbox.engine.client import bind, endpoint, forget_client, ping, use
from sandbox.engine.commands import ExecResult, OutputTooLarge, exec_in, exec_input, exec_output
from sandbox.engine.containers import (
    ContainerSpec,
    ExitState,
    LabelledContainer,
    OutputStream,
    attach,
    create_container,
    ensure_volume,
    exit_state,
    inspect,
    is_running,
    kill,
    labelled_containers,
    memory_usage,
    remove,
    remove_volumes,
    resize,
    start,
    wait,
)
from sandbox.engine.images import (
    build_image,
    build_stream,
    image_exists,
    image_history,
    image_info,
    image_label,
    labelled_images,
    remove_image,
    tag_image,
)
from sandbox.engine.networks import (
    LabelledNetwork,
    bridge_device,
    connect_network,
    create_private_network,
    create_run_network,
    ensure_uplink_network,
    labelled_networks,
    remove_network,
)
from sandbox.engine.profile import (
    BUILD_LIMITS,
    RUN_LABEL,
    SANDBOX_LABEL,
    WORKDIR,
    WORKSPACE_INODES,
    hardening,
    parse_bytes,
)
from sandbox.engine.swarm import (
    ServiceSpec,
    apply_service,
    create_lab_network,
    labelled_service_details,
    labelled_services,
    remove_service,
    rollback_service,
    service_state,
    swarm_active,
    swarm_init,
)
from sandbox.errors import EngineError, EngineUnavailable

__all__ = [
    "BUILD_LIMITS",
    "RUN_LABEL",
    "SANDBOX_LABEL",
    "WORKDIR",
    "WORKSPACE_INODES",
    "ContainerSpec",
    "EngineError",
    "EngineUnavailable",
    "ExecResult",
    "ExitState",
    "LabelledContainer",
    "LabelledNetwork",
    "OutputStream",
    "OutputTooLarge",
    "ServiceSpec",
    "apply_service",
    "attach",
    "bind",
    "bridge_device",
    "build_image",
    "build_stream",
    "connect_network",
    "create_container",
    "create_lab_network",
    "create_private_network",
    "create_run_network",
    "endpoint",
    "ensure_uplink_network",
    "ensure_volume",
    "exec_in",
    "exec_input",
    "exec_output",
    "exit_state",
    "forget_client",
    "hardening",
    "image_exists",
    "image_history",
    "image_info",
    "image_label",
    "inspect",
    "is_running",
    "kill",
    "labelled_containers",
    "labelled_images",
    "labelled_networks",
    "labelled_service_details",
    "labelled_services",
    "memory_usage",
    "parse_bytes",
    "ping",
    "remove",
    "remove_image",
    "remove_network",
    "remove_service",
    "remove_volumes",
    "resize",
    "rollback_service",
    "service_state",
    "start",
    "swarm_active",
    "swarm_init",
    "tag_image",
    "use",
    "wait",
]
