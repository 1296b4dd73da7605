"""Real, small MP4 files made with PyAV (FFmpeg): the chunks a capture pipeline writes and
the single file a concatenation pipeline makes of them.

A chunk holds a test picture (moving bars, H.264) and a tone (AAC), at a tiny size so a
test on a busy machine makes dozens in a second. Chunks of one kind share their encoder
settings, so concatenation copies packets without re-encoding; the result is written with
`movflags=faststart` (index first) so a browser starts playing before it has downloaded it.
"""

from __future__ import annotations

import math
import struct
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Literal

import av

ChunkKind = Literal["audio", "audio+video", "video"]

WIDTH, HEIGHT, FPS = 64, 48, 5
SAMPLE_RATE = 16000
TONE_HZ = 440.0


@cache
def chunk(kind: ChunkKind, seconds: int = 5) -> bytes:
    """One capture chunk of `seconds` (cached: every chunk of a kind is the same media)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chunk.mp4"
        with av.open(str(path), "w", format="mp4") as container:
            video = audio = None
            if kind in ("video", "audio+video"):
                video = container.add_stream("libx264", rate=FPS)
                video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
                video.options = {"preset": "ultrafast", "tune": "zerolatency"}
            if kind in ("audio", "audio+video"):
                audio = container.add_stream("aac", rate=SAMPLE_RATE)
                audio.layout = "mono"
                audio.bit_rate = 24000
            if video is not None:
                for index in range(seconds * FPS):
                    container.mux(video.encode(_picture(index)))
                container.mux(video.encode(None))
            if audio is not None:
                for frame in _tone(seconds):
                    container.mux(audio.encode(frame))
                container.mux(audio.encode(None))
        return path.read_bytes()


def _picture(index: int) -> av.VideoFrame:
    """Vertical bars that move one step per frame, so the picture visibly plays."""
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    row = bytes(((x + index * 4) // 8 % 2) * 180 + 40 for x in range(WIDTH))
    luma, cb, cr = frame.planes
    luma.update(_plane(row, luma.line_size, HEIGHT))
    cb.update(bytes([128]) * (cb.line_size * (HEIGHT // 2)))
    cr.update(bytes([128]) * (cr.line_size * (HEIGHT // 2)))
    frame.pts = index
    frame.time_base = Fraction(1, FPS)
    return frame


def _plane(row: bytes, line_size: int, height: int) -> bytes:
    return (row + bytes(line_size - len(row))) * height


def _tone(seconds: int) -> Iterable[av.AudioFrame]:
    samples_per_frame = 1024
    total = seconds * SAMPLE_RATE
    for start in range(0, total, samples_per_frame):
        count = min(samples_per_frame, total - start)
        pcm = struct.pack(
            f"<{count}h",
            *(
                int(8000 * math.sin(2 * math.pi * TONE_HZ * (start + i) / SAMPLE_RATE))
                for i in range(count)
            ),
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(pcm + bytes(frame.planes[0].buffer_size - len(pcm)))
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        frame.time_base = Fraction(1, SAMPLE_RATE)
        yield frame


def concatenate(chunks: list[bytes]) -> bytes:
    """One MP4 of the chunks in order, packets copied with their timestamps shifted."""
    if not chunks:
        raise ValueError("nothing to concatenate")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = []
        for index, data in enumerate(chunks):
            path = Path(tmp) / f"in-{index:05d}.mp4"
            path.write_bytes(data)
            inputs.append(path)
        out_path = Path(tmp) / "out.mp4"
        with av.open(str(out_path), "w", format="mp4", options={"movflags": "faststart"}) as out:
            outputs: dict[str, av.stream.Stream] = {}
            ends: dict[str, int] = {}
            for path in inputs:
                with av.open(str(path)) as source:
                    for stream in source.streams:
                        if stream.type in ("audio", "video") and stream.type not in outputs:
                            outputs[stream.type] = out.add_stream_from_template(stream)
                    offsets = dict(ends)
                    for packet in source.demux():
                        kind = packet.stream.type
                        if kind not in outputs or packet.dts is None or packet.pts is None:
                            continue
                        # A chunk's time zero goes where the previous chunk ended; the AAC
                        # priming packet before zero is kept only in the first chunk, so
                        # sound and picture stay in step however many chunks there are.
                        if kind in offsets and packet.pts < 0:
                            continue
                        shift = offsets.get(kind, 0)
                        end = packet.pts + (packet.duration or 0)
                        packet.pts += shift
                        packet.dts += shift
                        ends[kind] = max(ends.get(kind, 0), end + shift)
                        packet.stream = outputs[kind]
                        out.mux(packet)
        return out_path.read_bytes()
