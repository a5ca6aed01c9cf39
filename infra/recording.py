"""Recording a Pulumi program under mocks: every registration as the engine would receive it.

``record(program)`` runs ``program`` under Pulumi's mocks and returns one :class:`Record` per
registered resource (type, name, parent, provider, protect flag and inputs as serialised for the
engine). ``infra/plan.py`` runs the real stack through it; component tests run one component.

It is built to cost the same per resource at 300 or 7,500 resources and on the tenth run in a
process as on the first: see ``record`` and docs/ARCHITECTURE.md ("The offline plan").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from unittest import mock as _patch

from google.protobuf import struct_pb2
from pulumi.runtime import mocks, rpc
from pulumi.runtime import resource as _sdk_resource
from pulumi.runtime import settings as _sdk_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT = "phasescale"
REDACTED = "[secret]"
SECRET_SIG = rpc._special_sig_key

@dataclass(frozen=True)
class Record:
    """One registered resource, as the engine would receive it."""

    type: str
    name: str
    parent: str
    provider: str
    protect: bool
    custom: bool
    inputs: dict[str, Any]

    @property
    def key(self) -> str:
        """Stable identity across runs: parent chain plus type and name (the URN's content)."""
        return f"{self.parent}::{self.type}::{self.name}"

    @property
    def is_kubernetes_object(self) -> bool:
        return (
            self.custom
            and self.type.startswith("kubernetes:")
            and not self.type.startswith("kubernetes:helm.sh/")
            and "apiVersion" in self.inputs
        )


def _clean(value: Any) -> Any:
    """Wire values to plain data: integral floats back to ints, secrets redacted."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == rpc._special_secret_sig:
            inner = value.get("value")
            # A secret map (a Secret's stringData) keeps its keys, so the object stays valid.
            return {k: REDACTED for k in inner} if isinstance(inner, dict) else REDACTED
        return {k: _clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _name_of(urn: str) -> str:
    return urn.split("::")[-1] if urn else ""


class _RecordingMonitor(mocks.MockMonitor):
    """Records every registration. Outputs are the inputs as sent plus the mocks' additions (what
    ``MockMonitor`` returns after a deserialise/serialise round trip, built without that trip), so
    each request's inputs are deserialised once, for the record."""

    def __init__(self, mock: _Mocks) -> None:
        super().__init__(mock)
        self.mock = mock
        self.records: list[Record] = []
        self._elsewhere = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mock-invoke")

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        inputs = rpc.deserialize_properties(request.object)
        id_, added = self.mock.outputs(request.type, request.name, inputs)
        state = struct_pb2.Struct()
        state.CopyFrom(request.object)
        state.update(added)
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, id_, {**inputs, **added})
        self.records.append(
            Record(
                type=request.type,
                name=request.name,
                parent=_parent_key(request.parent),
                provider=request.provider.split("::")[3] if request.provider else "",
                protect=bool(request.protect),
                custom=bool(request.custom),
                inputs=_clean(inputs),
            )
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=state)

    # Invokes and reads go through MockMonitor, which pumps an event loop of its own
    # (``_sync_await``): they run on a helper thread, as under the SDK's default executor, so they
    # never re-enter the planner's loop that the inline executor keeps them on.
    def Invoke(self, request: Any) -> Any:
        return self._elsewhere.submit(super().Invoke, request).result()

    def ReadResource(self, request: Any) -> Any:
        return self._elsewhere.submit(super().ReadResource, request).result()

    def close(self) -> None:
        self._elsewhere.shutdown()


def _parent_key(urn: str) -> str:
    if not urn:
        return ""
    qualified = urn.split("::")[2]
    type_ = qualified.split("$")[-1]
    if type_ == "pulumi:pulumi:Stack":
        return ""
    return f"{type_}::{_name_of(urn)}"


class _Mocks(mocks.Mocks):
    """Plausible outputs for the few resources whose outputs feed other inputs."""

    def outputs(self, typ: str, name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The resource's id and the outputs the mocks add to (or set over) its inputs."""
        label = inputs.get("name") or name
        out: dict[str, Any] = {} if "name" in inputs else {"name": label}
        out["arn"] = f"arn:aws:mock:::{name}"
        out["email"] = f"{str(label)[:30]}@mock.iam.gserviceaccount.com"
        out["uri"] = f"https://{name}.example.invalid"
        if typ == "gcp:container/cluster:Cluster":
            out["endpoint"] = "203.0.113.10"
            out["masterAuth"] = {"clusterCaCertificate": "TU9DSy1DQQ=="}
        if typ == "aws:eks/cluster:Cluster":
            out["endpoint"] = f"https://{name}.eks.example.invalid"
            out["certificateAuthority"] = {"data": "TU9DSy1DQQ=="}
            out["identities"] = [{"oidcs": [{"issuer": f"https://oidc.eks.example.invalid/id/{name}"}]}]
        if typ == "gcp:redis/instance:Instance":
            out["persistenceIamIdentity"] = "serviceAccount:service-000000000000@cloud-redis.iam.gserviceaccount.com"
        if typ == "gcp:secretmanager/secretVersion:SecretVersion":
            out["version"] = "1"  # Cloud Run pins the version number it reads
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            out["url"] = inputs.get("url", "")
        if typ == "aws:eks/cluster:Cluster":  # the security group EKS makes for the nodes (MSK admits it)
            out["vpcConfig"] = {**(inputs.get("vpcConfig") or {}), "clusterSecurityGroupId": f"sg-{name}-cluster"}
        if typ == "aws:kms/key:Key":
            out["keyId"] = f"{name}-key-id"
        if typ == "aws:msk/configuration:Configuration":
            out["latestRevision"] = 1
        if typ == "aws:msk/cluster:Cluster":
            out["bootstrapBrokersSaslScram"] = f"b-1.{name}.kafka.example.invalid:9096"
        if typ == "gcp:managedkafka/cluster:Cluster":
            out["bootstrapAddress"] = f"bootstrap.{name}.managedkafka.example.invalid:9092"
        return f"{name}-id", out

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        id_, added = self.outputs(args.typ, args.name, args.inputs)
        return id_, {**args.inputs, **added}

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Data sources read nothing offline (an EKS node group's live scaling: none, as on a first deploy;
        ``None`` here would make the mock monitor crash)."""
        return {}, []


def record(
    program: Callable[[], object],
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: frozenset[str] = frozenset(),
) -> list[Record]:
    """Run ``program`` under fresh mocks and return every registration it made, ordered by
    :attr:`Record.key` (so two runs give the same list, whatever order the SDK registered in)."""
    mock = _Mocks()
    monitor = _RecordingMonitor(mock)
    try:
        previous: asyncio.AbstractEventLoop | None = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        previous = None
    loop = asyncio.new_event_loop()
    # A fresh loop and root stack per run: nothing of an earlier run (tasks, callbacks, the root
    # Stack bound to the earlier loop) is carried into this one, so the tenth plan in a process
    # costs what the first did. Registration calls run inline instead of on the SDK's thread pool:
    # the mock monitor only does Python work, and without thread hand-offs the registration order
    # is the event loop's, which is deterministic.
    loop.set_default_executor(_InlineExecutor())
    asyncio.set_event_loop(loop)
    _sdk_settings.ROOT.set(None)
    try:
        mocks.set_mocks(mock, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        set_all_config(dict(config or {}), sorted(secret_keys))

        async def body() -> None:
            program()
            await _settle()

        with _registration_mode():
            _sync_await(run_pulumi_func(body))
    finally:
        monitor.close()
        loop.close()
        # The caller's loop back (other code in the process, tests' own mock programs, expects one).
        asyncio.set_event_loop(previous if previous is not None and not previous.is_closed() else None)
    return _in_order(monitor.records)


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each submitted call at once on the calling thread (``loop.run_in_executor`` accepts
    only a ThreadPoolExecutor, so this is one that never starts a thread)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to the awaiting coroutine, as a worker thread would
            done.set_exception(err)
        return done


async def _settle() -> None:
    """Wait for every outstanding registration and output, each awaited once.

    ``run_pulumi_func``'s own wait (which still runs after this, and then finds nothing left)
    waits for *any one* outstanding output at a time, re-subscribing to all the others each
    round: quadratic in the number of resources (most of the 200-service plan's time). A failed
    task is handed back to it untouched, so errors surface exactly as they did."""
    manager = _sdk_settings._get_rpc_manager()
    outputs = _sdk_settings.SETTINGS.outputs
    while True:
        with _sdk_settings.SETTINGS.lock:
            rpcs, pending = list(manager.rpcs), list(outputs)
            manager.rpcs.clear()
            outputs.clear()
        if not rpcs and not pending:
            return
        await asyncio.wait([*rpcs, *pending])
        failed = {t for t in (*rpcs, *pending) if t.cancelled() or t.exception() is not None}
        if failed:
            manager.rpcs.extend(t for t in rpcs if t in failed)
            with _sdk_settings.SETTINGS.lock:
                outputs.update(t for t in pending if t in failed)
            return


@contextlib.contextmanager
def _registration_mode() -> Iterator[None]:
    """While the program registers: no cyclic garbage collection (the run builds a few hundred
    thousand long-lived objects; collecting them over and over costs a third of the run and frees
    nothing until the plan is done), and no stack trace per resource (the SDK walks the whole
    Python stack for each registration so the engine can point at the source line; the mocks
    discard it). ``patch.object`` fails loudly if an SDK upgrade renames the function."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        with _patch.patch.object(_sdk_resource, "_get_stack_trace", source_pb2.StackTrace):
            yield
    finally:
        if enabled:
            gc.enable()


def _in_order(records: list[Record]) -> list[Record]:
    """Records by key (unique within a plan, as URNs are); any tie by content, so the order never
    depends on the order the SDK happened to register in."""
    ties = {k for k, n in Counter(r.key for r in records).items() if n > 1}
    return sorted(records, key=lambda r: (r.key, json.dumps(r.inputs, sort_keys=True) if r.key in ties else ""))
