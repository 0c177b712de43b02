"""Frames decoded per second, per codec: framing alone, and framing plus normalization.

Stream codecs are fed a realistic mix of their frames in 4 KiB reads, as a TCP
socket would deliver them; message codecs decode one message at a time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from community_hub_tools.bench.samples import SAMPLES, Sample
from device_adapters.base import (
    MessageAdapter,
    MessageContext,
    Rejected,
    SessionAdapter,
    StreamAdapter,
)
from device_adapters.registry import load_adapters

_READ = 4096


@dataclass(frozen=True)
class CodecResult:
    adapter: str
    transport: str
    frames_per_s_framing: float | None
    frames_per_s_full: float
    events_per_frame: float


def _timed(run_once: Callable[[], int], seconds: float) -> tuple[int, float]:
    """Repeat ``run_once`` (which returns frames handled) for about ``seconds``."""
    frames, started = 0, time.perf_counter()
    while True:
        frames += run_once()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return frames, elapsed


def _bench_stream(adapter: StreamAdapter[Any], sample: Sample, seconds: float) -> CodecResult:
    blob = b"".join(sample.payloads)
    chunks = [blob[i : i + _READ] for i in range(0, len(blob), _READ)]
    now = datetime.now(UTC)

    def framing() -> int:
        stream = adapter.new_stream()
        count = 0
        for chunk in chunks:
            count += sum(1 for item in stream.feed(chunk) if not isinstance(item, Rejected))
        return count

    events = 0

    def full() -> int:
        nonlocal events
        stream = adapter.new_stream()
        count = 0
        for chunk in chunks:
            for item in stream.feed(chunk):
                if isinstance(item, Rejected):
                    continue
                count += 1
                events += len(adapter.to_events(item, received_at=now, gateway_id="bench"))
        return count

    framed, framing_s = _timed(framing, seconds / 2)
    handled, full_s = _timed(full, seconds / 2)
    return CodecResult(
        adapter.name, adapter.transport, framed / framing_s, handled / full_s, events / handled
    )


def _bench_message(adapter: MessageAdapter, sample: Sample, seconds: float) -> CodecResult:
    ctx = MessageContext(
        received_at=datetime.now(UTC), gateway_id="bench", source="bench", device_hint=sample.hint
    )
    events = 0

    def full() -> int:
        nonlocal events
        for payload in sample.payloads:
            events += len(adapter.decode(payload, ctx))
        return len(sample.payloads)

    handled, full_s = _timed(full, seconds)
    return CodecResult(adapter.name, adapter.transport, None, handled / full_s, events / handled)


_OCPP_ACTIONS = {
    "BootNotification": "boot_notification",
    "Heartbeat": "heartbeat",
    "StatusNotification": "status_notification",
    "MeterValues": "meter_values",
}


def _bench_session(adapter: SessionAdapter, sample: Sample, seconds: float) -> CodecResult:
    """OCPP: parse the Call as the edge's server does, then normalize its payload."""
    now = datetime.now(UTC)
    cp_id = sample.hint or "bench"
    events = 0

    def full() -> int:
        nonlocal events
        for raw in sample.payloads:
            _type, _id, action, payload = json.loads(raw)
            normalize = getattr(adapter.functions, _OCPP_ACTIONS[action])
            events += len(normalize(cp_id, payload, received_at=now, gateway_id="bench", raw=raw))
        return len(sample.payloads)

    handled, full_s = _timed(full, seconds)
    return CodecResult(adapter.name, adapter.transport, None, handled / full_s, events / handled)


def run_codec_bench(seconds_per_codec: float = 2.0, progress: bool = True) -> list[CodecResult]:
    adapters = load_adapters()
    names = [n for n in SAMPLES if n in adapters]
    results: list[CodecResult] = []
    for name in tqdm(names, desc="codecs", unit="codec", disable=not progress):
        adapter, sample = adapters[name], SAMPLES[name]()
        if isinstance(adapter, StreamAdapter):
            results.append(_bench_stream(adapter, sample, seconds_per_codec))
        elif isinstance(adapter, MessageAdapter):
            results.append(_bench_message(adapter, sample, seconds_per_codec))
        elif isinstance(adapter, SessionAdapter):
            results.append(_bench_session(adapter, sample, seconds_per_codec))
    return results


def markdown(results: list[CodecResult], seconds_per_codec: float) -> str:
    lines = [
        "## Codecs: frames decoded per second",
        "",
        f"One core, about {seconds_per_codec:g} s per codec. *Framing*: bytes to frames only "
        "(stream protocols). *Full*: framing plus normalization into `DeviceEvent`s, "
        "which is what the edge does per frame.",
        "",
        "| adapter | transport | framing (frames/s) | full (frames/s) | events per frame |",
        "|---|---|---:|---:|---:|",
    ]
    for r in results:
        framing = f"{r.frames_per_s_framing:,.0f}" if r.frames_per_s_framing else "n/a"
        lines.append(
            f"| `{r.adapter}` | {r.transport} | {framing} | {r.frames_per_s_full:,.0f} "
            f"| {r.events_per_frame:.2f} |"
        )
    return "\n".join(lines)
