"""Children wait for what their component waits for.

The Python SDK sends a resource's own ``depends_on`` only (``pulumi/runtime/resource.py``
``prepare_resource``), and a child waits for its parent component's registration, which is
immediate, not for the component's dependencies. So ``StatelessService(..., depends_on=[namespace,
the add-on releases])`` would let its Deployment race the namespace it lives in on a first
``pulumi up``. This stack transformation gives every resource its parent chain's ``depends_on`` too:
each component's own list is kept (by identity) when it is registered, and every child adds the
lists of its ancestors to its own.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi


def inherit_depends_on() -> Callable[[pulumi.ResourceTransformationArgs], pulumi.ResourceTransformationResult | None]:
    inherited: dict[int, list[pulumi.Resource]] = {}

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        own = args.opts.depends_on
        own_list: list[pulumi.Resource] = (
            [] if own is None else [d for d in (own if isinstance(own, list) else [own]) if isinstance(d, pulumi.Resource)]
        )
        parent = args.opts.parent
        from_parent = inherited.get(id(parent), []) if parent is not None else []
        merged = own_list + [d for d in from_parent if d not in own_list]
        if merged:
            inherited[id(args.resource)] = merged
        if not from_parent or (own is not None and not isinstance(own, list | pulumi.Resource)):
            return None  # nothing to add, or an Output-valued depends_on the SDK resolves itself
        return pulumi.ResourceTransformationResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(depends_on=merged))
        )

    return transform


def register() -> None:
    """Call once, before the first resource of the stack."""
    pulumi.runtime.register_stack_transformation(inherit_depends_on())
