"""The large-file measurement: a generated text of varied prose, its raw embedder throughput, a kill-and-resume count.

``python -m eval.bench.large_file generate OUT.txt --mb 15`` writes the file (paragraphs of
sentences drawn at random, with a fixed seed, from the licence texts and installed packages'
descriptions on this machine, so no two chunks are alike). ``raw OUT.txt`` embeds the very chunks
``rag ingest`` would write with the embedder alone (``embed_with_spans``, the ingest's batch size)
and prints chunks/s. ``sample OUT.txt STORE`` runs ``rag ingest`` (to the end, or SIGKILLed at
``--stop-at``) and reads its peak RSS, CPU time and progress lines. ``resume OUT.txt STORE``
SIGKILLs a ``rag ingest`` once a third of the chunks are written, reruns it and prints how many
chunks the rerun embedded against how many were stored.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

__all__ = ["generate", "main", "raw_throughput", "resume_run", "sample_run"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _sentences() -> list[str]:
    """Prose sentences from the licences and the installed packages' long descriptions."""
    texts: list[str] = []
    for p in sorted(Path("/usr/share/common-licenses").glob("*")):
        if p.is_file():
            texts.append(p.read_text(encoding="utf-8", errors="replace"))
    site = Path(sysconfig.get_paths()["purelib"])
    for p in sorted(site.glob("*.dist-info/METADATA")):
        body = p.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[-1]
        texts.append(body)
    out: list[str] = []
    for text in texts:
        flat = " ".join(
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("```", "|"))
        )
        for s in _SENTENCE.split(flat):
            words = s.split()
            if 6 <= len(words) <= 60 and sum(w.isalpha() for w in words) >= len(words) * 0.6:
                out.append(" ".join(words))
    return sorted(set(out))


def generate(out: Path, mb: float, seed: int = 14) -> int:
    """Write ``mb`` megabytes of paragraphs (3–8 random sentences each); returns the bytes written."""
    pool = _sentences()
    rng = random.Random(seed)
    target = int(mb * 1_000_000)
    written = 0
    with out.open("w", encoding="utf-8") as f:
        while written < target:
            para = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 8))) + "\n\n"
            f.write(para)
            written += len(para.encode())
    return written


def _chunks(path: Path) -> tuple[list[str], list[list[tuple[int, int]]], int]:
    from rag.embed import make_embedder
    from rag.ingest.chunk import chunk_document
    from rag.ingest.writer import prepare_document
    from rag.records import relative_spans
    from rag.settings import Settings

    settings = Settings()
    embedder = make_embedder(settings)
    doc = prepare_document(path, settings)
    chunks = chunk_document(doc, embedder.count_tokens, settings.chunk.max_tokens, settings.chunk.overlap_sentences)
    return [c.text for c in chunks], [list(relative_spans(c)) for c in chunks], settings.ingest.batch_chunks


def raw_throughput(path: Path, limit: int | None = None) -> dict[str, float]:
    """Chunks/s of the embedder alone on the (first ``limit``) chunks of ``path``, in the ingest's slices."""
    from rag.embed import make_embedder
    from rag.settings import Settings

    texts, spans, batch = _chunks(path)
    texts, spans = texts[:limit], spans[:limit]
    embedder = make_embedder(Settings())
    embedder.embed_query("warm up")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for b in range(0, len(texts), batch):
        embedder.embed_with_spans(texts[b : b + batch], spans[b : b + batch])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "chunks": len(texts),
        "seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "chunks_per_s": round(len(texts) / wall, 2),
        "chunks_per_cpu_s": round(len(texts) / cpu, 2),
    }


def _embedded(stderr: str) -> tuple[int, int]:
    m = re.search(r"(\d+) chunks embedded(?: \((\d+) already stored, reused\))?", stderr)
    if not m:
        raise SystemExit(f"no ingest summary in: {stderr[-400:]}")
    return int(m.group(1)), int(m.group(2) or 0)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sample_run(path: Path, store: Path, stop_at: float) -> dict[str, float | int]:
    """``rag ingest path``: peak RSS, time to its first slice, steady chunks/s (wall and CPU).

    SIGKILLed once ``stop_at`` of its chunks are written (with 1, it runs to the end); reads the
    plain progress lines it prints when stderr is not a terminal.
    """
    env = {**os.environ, "RAG_STORE_PATH": str(store)}
    rag = str(Path(sys.executable).with_name("rag"))
    t0 = time.perf_counter()
    child = subprocess.Popen([rag, "ingest", str(path)], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert child.stderr is not None
    first: tuple[float, int, float] | None = None
    last: tuple[float, int, float] = (0.0, 0, 0.0)
    total = peak = 0.0
    for raw in child.stderr:
        m = re.search(rb"(\d+)/(\d+) chunks", raw)
        if not m or child.poll() is not None:
            continue
        written, total = int(m[1]), int(m[2])
        now = (time.perf_counter() - t0, written, _cpu_seconds(child.pid))
        peak = max(peak, _peak_rss_mb(child.pid))
        if total and first is None:
            first = now
        last = now
        if total and written >= stop_at * total and stop_at < 1:
            peak = max(peak, _peak_rss_mb(child.pid))
            child.send_signal(signal.SIGKILL)
            break
    # The kernel's own peak for the whole life of the child, the final commit after its last progress line included.
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    peak = max(peak, usage.ru_maxrss / 1024)
    assert first is not None, "no progress line with a chunk count"
    span, done, cpu = last[0] - first[0], last[1] - first[1], last[2] - first[2]
    return {
        "chunks_total": int(total),
        "chunks_written": last[1],
        "seconds_to_first_slice": round(first[0], 1),
        "steady_seconds": round(span, 1),
        "steady_chunks_per_s": round(done / span, 2) if span else 0.0,
        "steady_chunks_per_cpu_s": round(done / cpu, 2) if cpu else 0.0,
        "peak_rss_mb": round(peak, 1),
        "returncode": int(child.returncode),
    }


def resume_run(path: Path, store: Path, stop_at: float) -> dict[str, int | float]:
    """SIGKILL ``rag ingest path`` once ``stop_at`` of its chunks are written, rerun it: what it re-embedded."""
    killed = sample_run(path, store, stop_at)
    from store.chroma import raw_persistent_client

    stored = raw_persistent_client(store).get_collection("rag_chunks").count()
    env = {**os.environ, "RAG_STORE_PATH": str(store)}
    rag = str(Path(sys.executable).with_name("rag"))
    t0 = time.perf_counter()
    rerun = subprocess.run([rag, "ingest", str(path)], env=env, capture_output=True, text=True, check=True)
    embedded, reused = _embedded(rerun.stdout + rerun.stderr)
    return {
        "chunks_total": killed["chunks_total"],
        "chunks_written_before_kill": killed["chunks_written"],
        "chunks_stored_after_kill": stored,
        "rerun_embedded": embedded,
        "rerun_reused": reused,
        "rerun_seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: generate, raw, resume."""
    ap = argparse.ArgumentParser(prog="python -m eval.bench.large_file")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("out", type=Path)
    g.add_argument("--mb", type=float, default=15.0)
    r = sub.add_parser("raw")
    r.add_argument("path", type=Path)
    r.add_argument("--limit", type=int, default=None)
    for name in ("sample", "resume"):
        k = sub.add_parser(name)
        k.add_argument("path", type=Path)
        k.add_argument("store", type=Path)
        k.add_argument("--stop-at", type=float, default=1.0 if name == "sample" else 0.34)
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        print(json.dumps({"bytes": generate(args.out, args.mb)}))
    elif args.cmd == "raw":
        print(json.dumps(raw_throughput(args.path, args.limit)))
    elif args.cmd == "sample":
        print(json.dumps(sample_run(args.path, args.store, args.stop_at)))
    else:
        print(json.dumps(resume_run(args.path, args.store, args.stop_at)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
