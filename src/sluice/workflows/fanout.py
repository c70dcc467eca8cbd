"""Parallel and Map states: branches and iterations are state machines of their own, run on
threads (a Map up to its MaxConcurrency). A distributed Map reads its items with an
ItemReader from the object store, batches them (ItemBatcher), tolerates failures up to its
thresholds and writes its results with a ResultWriter."""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from sluice.workflows import data as jp
from sluice.workflows.errors import StatesError, runtime
from sluice.workflows.expressions import resolve
from sluice.workflows.intrinsic_functions import call_intrinsic

if TYPE_CHECKING:
    from sluice.workflows.interpreter import _Frame

_INLINE_CONCURRENCY = 40  # what "MaxConcurrency": 0 (unlimited) gets on AWS for inline Maps


def _fanout(count: int, concurrency: int, run_one: Callable[[int, threading.Event], Any],
            *, tolerate: Callable[[int], bool] | None = None) -> list[Any]:
    """``run_one(i)`` for i < count on up to ``concurrency`` threads, results in order.
    The first failure stops the others (each stops at its next transition) and is raised,
    unless ``tolerate(failures)`` says so: a tolerated failure's result is its error output."""
    from sluice.workflows.interpreter import _Stop

    results: list[Any] = [None] * count
    if count == 0:
        return results
    stopped = threading.Event()
    failures = 0
    lock = threading.Lock()

    def one(i: int) -> None:
        nonlocal failures
        try:
            results[i] = run_one(i, stopped)
        except StatesError as exc:
            with lock:
                failures += 1
                if tolerate is not None and tolerate(failures):
                    results[i] = exc.output
                    return
            stopped.set()
            raise

    if concurrency == 1 or count == 1:
        for i in range(count):
            one(i)
        return results
    with ThreadPoolExecutor(max_workers=min(concurrency, count)) as pool:
        futures = [pool.submit(one, i) for i in range(count)]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:  # the first real failure, not a sibling's stop
            exc = future.exception() if future.done() else None
            if isinstance(exc, StatesError):
                stopped.set()
                raise exc
        for future in futures:
            exc = future.exception()
            if exc is not None and not isinstance(exc, _Stop):
                raise exc
    return results


def run_parallel(state: Mapping[str, Any], value: Any, frame: _Frame, language: str) -> Any:
    """Every branch on ``value``; the list of their outputs. A failed branch fails the state
    with its error (States.BranchFailed names none of AWS's own)."""
    from sluice.workflows.interpreter import _machine

    branches = state["Branches"]

    def branch(i: int, stopped: threading.Event) -> Any:
        machine = branches[i]
        return _machine(machine, value, frame.child(str(machine.get("QueryLanguage",
                                                                    language)), stopped))

    return _fanout(len(branches), len(branches), branch)


def run_map(name: str, state: Mapping[str, Any], value: Any, frame: _Frame, language: str,
            context: Mapping[str, Any]) -> Any:
    """Each item of the state's input through its ItemProcessor; the list of outputs (or,
    with a ResultWriter, where they were written)."""
    from sluice.workflows.interpreter import _machine

    scope = jp.Scope(context, frame.variables)
    states = {"input": value, "context": context}
    items = _items(state, value, scope, states, frame, language)
    processor = state.get("ItemProcessor") or state["Iterator"]
    config = processor.get("ProcessorConfig", {})
    distributed = config.get("Mode") == "DISTRIBUTED"
    batches = _batches(state, items, value, scope, states, frame, language)
    concurrency = _number(state, "MaxConcurrency", value, scope, states, frame, language, 0)
    concurrency = int(concurrency) or (1000 if distributed else _INLINE_CONCURRENCY)
    inner_language = str(processor.get("QueryLanguage", language))

    def iteration(i: int, stopped: threading.Event) -> Any:
        item = batches[i]
        item_input = _selected(state, item, i, value, context, frame, language)
        child = frame.child(inner_language, stopped, {"Index": i, "Value": item})
        return _machine(processor, item_input, child)

    tolerate = _tolerance(state, len(batches), value, scope, states, frame, language) \
        if distributed else None
    results = _fanout(len(batches), concurrency, iteration, tolerate=tolerate)
    if "ResultWriter" in state:
        return _write_results(name, state, results, batches, value, frame, language, scope,
                              states)
    return results


def _items(state: Mapping[str, Any], value: Any, scope: jp.Scope, states: Mapping[str, Any],
           frame: _Frame, language: str) -> list[Any]:
    if "ItemReader" in state:
        return _read_items(state["ItemReader"], value, scope, states, frame, language)
    if language == "JSONata":
        items = resolve(state.get("Items", "{% $states.input %}"), states, frame.variables,
                        field="Items")
    else:
        items = jp.select(state.get("ItemsPath", "$"), value, scope, field="ItemsPath")
    if not isinstance(items, list):
        raise runtime(f"the Map's items are not an array: {json.dumps(items)[:200]}")
    return items


def _selected(state: Mapping[str, Any], item: Any, index: int, value: Any,
              context: Mapping[str, Any], frame: _Frame, language: str) -> Any:
    """An iteration's input: the item, or what ItemSelector (Parameters) makes of it."""
    template = state.get("ItemSelector", state.get("Parameters"))
    if template is None:
        return item
    item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
    if language == "JSONata":
        return resolve(template, {"input": value, "context": item_context}, frame.variables,
                       field="ItemSelector")
    return jp.fill(template, value, jp.Scope(item_context, frame.variables),
                   field="ItemSelector", intrinsic=call_intrinsic)


def _number(state: Mapping[str, Any], key: str, value: Any, scope: jp.Scope,
            states: Mapping[str, Any], frame: _Frame, language: str, default: float) -> float:
    if key in state:
        found = state[key]
        if language == "JSONata":
            found = resolve(found, states, frame.variables, field=key)
    elif f"{key}Path" in state:
        found = jp.select(state[f"{key}Path"], value, scope, field=f"{key}Path")
    else:
        return default
    if isinstance(found, bool) or not isinstance(found, int | float) or found < 0:
        raise runtime(f"{key} is {found!r}, not a non-negative number")
    return float(found)


def _tolerance(state: Mapping[str, Any], total: int, value: Any, scope: jp.Scope,
               states: Mapping[str, Any], frame: _Frame,
               language: str) -> Callable[[int], bool] | None:
    """Whether ``failures`` failed items are still within the thresholds; None: none is."""
    percent = _number(state, "ToleratedFailurePercentage", value, scope, states, frame,
                      language, -1)
    count = _number(state, "ToleratedFailureCount", value, scope, states, frame, language, -1)
    if percent < 0 and count < 0:
        return None

    def within(failures: int) -> bool:
        # either threshold exceeded fails the Map Run
        if (count >= 0 and failures > count) or (
                percent >= 0 and failures * 100.0 / max(total, 1) > percent):
            raise StatesError("States.ExceedToleratedFailureThreshold",
                              f"{failures} of {total} items failed, more than tolerated")
        return True

    return within


def _batches(state: Mapping[str, Any], items: list[Any], value: Any, scope: jp.Scope,
             states: Mapping[str, Any], frame: _Frame, language: str) -> list[Any]:
    """The items, or with an ItemBatcher, ``{"Items": [...], **BatchInput}`` per batch."""
    batcher = state.get("ItemBatcher")
    if batcher is None:
        return items
    most = _number(batcher, "MaxItemsPerBatch", value, scope, states, frame, language, 0)
    max_bytes = _number(batcher, "MaxInputBytesPerBatch", value, scope, states, frame,
                        language, 0)
    extra = batcher.get("BatchInput", {})
    extra = resolve(extra, states, frame.variables, field="BatchInput") \
        if language == "JSONata" else jp.fill(extra, value, scope, field="BatchInput",
                                              intrinsic=call_intrinsic)
    out: list[Any] = []
    batch: list[Any] = []
    size = 0
    for item in items:
        item_bytes = len(json.dumps(item, separators=(",", ":")).encode())
        if batch and ((most and len(batch) >= most) or
                      (max_bytes and size + item_bytes > max_bytes)):
            out.append({**extra, "Items": batch})
            batch, size = [], 0
        batch.append(item)
        size += item_bytes
    if batch:
        out.append({**extra, "Items": batch})
    return out


def _read_items(reader: Mapping[str, Any], value: Any, scope: jp.Scope,
                states: Mapping[str, Any], frame: _Frame, language: str) -> list[Any]:
    """An ItemReader over the object store: one object (JSON, JSONL or CSV) or a listing."""
    params = resolve(reader.get("Arguments", {}), states, frame.variables, field="Arguments") \
        if language == "JSONata" else jp.fill(reader.get("Parameters", {}), value, scope,
                                              field="Parameters", intrinsic=call_intrinsic)
    config = reader.get("ReaderConfig", {})
    store = frame.run.resources
    resource = reader["Resource"]
    bucket = str(params.get("Bucket", ""))
    try:
        if resource.endswith(":s3:listObjectsV2"):
            items: list[Any] = store.list_objects(bucket, str(params.get("Prefix", "")))
        else:
            raw = store.read_object(bucket, str(params.get("Key", "")))
            items = _parse_items(raw, config)
    except StatesError as exc:
        raise StatesError("States.ItemReaderFailed", exc.cause or exc.error) from None
    limit = config.get("MaxItems")
    return items[:int(limit)] if isinstance(limit, int) and limit > 0 else items


def _parse_items(raw: bytes, config: Mapping[str, Any]) -> list[Any]:
    kind = config.get("InputType", "JSON")
    text = raw.decode("utf-8")
    if kind == "JSON":
        items = json.loads(text)
        if not isinstance(items, list):
            raise StatesError("States.ItemReaderFailed", "the JSON object is not an array")
        return items
    if kind == "JSONL":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if kind == "CSV":
        delimiter = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ",
                     "TAB": "\t"}.get(config.get("CSVDelimiter", "COMMA"), ",")
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
            header = list(config.get("CSVHeaders", []))
        else:
            header, rows = (rows[0], rows[1:]) if rows else ([], [])
        return [dict(zip(header, row, strict=False)) for row in rows]
    raise StatesError("States.ItemReaderFailed", f"InputType {kind} is not supported locally")


def _write_results(name: str, state: Mapping[str, Any], results: list[Any], inputs: list[Any],
                   value: Any, frame: _Frame, language: str, scope: jp.Scope,
                   states: Mapping[str, Any]) -> dict[str, Any]:
    """A ResultWriter: the results as files under its Prefix, and a manifest."""
    writer = state["ResultWriter"]
    params = resolve(writer.get("Arguments", {}), states, frame.variables, field="Arguments") \
        if language == "JSONata" else jp.fill(writer.get("Parameters", {}), value, scope,
                                              field="Parameters", intrinsic=call_intrinsic)
    bucket, prefix = str(params.get("Bucket", "")), str(params.get("Prefix", "")).rstrip("/")
    run_id = str(uuid.uuid4())
    base = f"{prefix}/{run_id}" if prefix else run_id
    succeeded = [{"Input": json.dumps(i), "Output": json.dumps(r), "Status": "SUCCEEDED"}
                 for i, r in zip(inputs, results, strict=True)]
    key = f"{base}/SUCCEEDED_0.json"
    store = frame.run.resources
    try:
        store.write_object(bucket, key, json.dumps(succeeded).encode())
        manifest = {"DestinationBucket": bucket, "MapRunArn": f"local:map-run:{name}/{run_id}",
                    "ResultFiles": {"SUCCEEDED": [{"Key": key, "Size": len(succeeded)}],
                                    "FAILED": [], "PENDING": []}}
        store.write_object(bucket, f"{base}/manifest.json", json.dumps(manifest).encode())
    except StatesError as exc:
        raise StatesError("States.ResultWriterFailed", exc.cause or exc.error) from None
    return {"MapRunArn": manifest["MapRunArn"],
            "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}/manifest.json"}}
