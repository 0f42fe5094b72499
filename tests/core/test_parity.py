"""ImageClient and AsyncImageClient offer the same methods with the same signatures."""

from __future__ import annotations

import inspect

from imagebridge import AsyncImageClient, ImageClient

SYNC_ONLY = {"close", "__enter__", "__exit__"}
# batch() needs bounded concurrency, which is what the async client is for.
ASYNC_ONLY = {"aclose", "__aenter__", "__aexit__", "batch"}
# Bounding requests in flight is an async concern (one event loop, many concurrent jobs).
ASYNC_ONLY_PARAMETERS = {"max_in_flight"}
# Pre-flight and dry runs send nothing: one method each, shared by both clients, never awaited.
NO_IO = {"plan", "dry_run", "estimate"}
#: Methods that validate at the call and return an async iterator (stream()).
RETURNS_ASYNC_ITERATOR = {"stream"}


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def shape(function: object) -> list[tuple[str, object, object]]:
    """Parameter names, kinds and defaults (annotations differ: sync vs async transports)."""
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_same_public_names() -> None:
    assert public(ImageClient) - SYNC_ONLY == public(AsyncImageClient) - ASYNC_ONLY
    assert {"generate", "edit", "submit", "wait", "adapter"} <= public(ImageClient)
    assert SYNC_ONLY - {"__enter__", "__exit__"} <= public(ImageClient)
    assert ASYNC_ONLY - {"__aenter__", "__aexit__"} <= public(AsyncImageClient)


def test_same_signatures_and_async_methods_are_coroutines() -> None:
    async_init = [p for p in shape(AsyncImageClient.__init__) if p[0] not in ASYNC_ONLY_PARAMETERS]
    assert shape(ImageClient.__init__) == async_init
    for name in sorted(public(ImageClient) - SYNC_ONLY):
        sync = inspect.getattr_static(ImageClient, name)
        asynchronous = inspect.getattr_static(AsyncImageClient, name)
        if isinstance(sync, property):
            assert isinstance(asynchronous, property), name
            continue
        if not callable(sync):
            continue
        if name in NO_IO:
            assert sync is asynchronous, name
            continue
        assert shape(sync) == shape(asynchronous), name
        assert not inspect.iscoroutinefunction(sync), name
        if name in RETURNS_ASYNC_ITERATOR:
            # Checked before anything is sent, at the call; the events come by async for.
            assert not inspect.iscoroutinefunction(asynchronous), name
            continue
        assert inspect.iscoroutinefunction(asynchronous), name
    assert inspect.iscoroutinefunction(AsyncImageClient.aclose)
    assert inspect.iscoroutinefunction(AsyncImageClient.__aenter__)
    assert inspect.iscoroutinefunction(AsyncImageClient.__aexit__)
    assert not inspect.iscoroutinefunction(ImageClient.close)
