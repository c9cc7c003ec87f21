"""The ``rag`` command: a thin layer over the public API (heavy imports happen per command)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import textwrap
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.pipeline import Pipeline
    from rag.types import Answer

EXAMPLES = """\
examples:
  rag ask "Why does ISKP oppose the Taliban?"
  rag ask "Who won the 2022 FIFA World Cup?" --json
  rag ingest my_articles/ --prune
  rag sources --show-removed
"""


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


# C0/C1 controls (ESC starts terminal escape sequences) and the bidi overrides that reorder text.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """A name or line fit for a terminal: control characters shown as escapes, never obeyed."""
    return _UNSAFE.sub(lambda m: repr(m[0])[1:-1] if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", str(text))


def safe_text(text: str) -> str:
    """Document text for a terminal: newlines and tabs kept, other control characters dropped."""
    return _UNSAFE_TEXT.sub("", text)


def _parser(plugins: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rag",
        description="Answers questions from your documents; every sentence cites a verbatim quote.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    ing = sub.add_parser("ingest", help="add documents to the store (default: the seed articles)")
    ing.add_argument("paths", nargs="*", type=Path, help="files or folders (.txt .md .html .pdf)")
    ing.add_argument("--prune", action="store_true", help="remove stored documents whose files are gone")
    ing.add_argument("--rebuild", action="store_true", help="empty the store and ingest from scratch")
    ing.add_argument("--json", action="store_true", help="print the report as JSON")
    ing.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ing.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow every symlink; by default a symlink (named or found in a folder) is followed only "
        "when it points inside the files and folders named",
    )
    ing.add_argument(
        "--no-wait",
        action="store_true",
        help="exit at once if another ingest is writing to the store (default: wait for it)",
    )

    ask = sub.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question", help="the question (quote it)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (a stable contract)")
    ask.add_argument("--top-k", type=_positive, default=None, metavar="N", help="chunks to retrieve (default 5)")
    ask.add_argument("--show-retrieved", action="store_true", help="also list the retrieved chunks with scores")
    ask.add_argument(
        "--mode",
        choices=["auto", "extractive", "llm"],
        default=None,
        help="extractive (offline), llm (OpenAI-compatible endpoint), auto = llm when configured (default)",
    )

    src = sub.add_parser("sources", help="list ingested documents with metadata and chunk counts")
    src.add_argument("--json", action="store_true", help="print as JSON")
    src.add_argument("--show-removed", action="store_true", help="list the boilerplate lines cleaning removed")
    src.add_argument("--show", metavar="DOC", help="print one document's cleaned text (file name or id)")

    chat = sub.add_parser(
        "chat",
        help="serve the chat UI and print its URL to open in a browser (ingests the seeds on first run)",
        description="Serve the chat UI on http://HOST:PORT until Ctrl+C; open the printed URL in a browser. "
        "With RAG_UI_USERNAME and RAG_UI_PASSWORD set, a login is required (failed logins are throttled).",
    )
    chat.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    chat.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    chat.add_argument("--share", action="store_true", help="also publish a public gradio.live link (off by default)")

    # Commands of packages layered above rag (the eval suite's `eval` and `bench`) register
    # themselves through an entry point group, so rag never imports them.
    if plugins:
        for ep in entry_points(group="rag.commands"):
            ep.load()(sub)
    return p


def _err(msg: str) -> None:
    print(f"rag: error: {safe(msg)}", file=sys.stderr)


def _pipeline(follow_symlinks: bool = False) -> Pipeline:
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    settings = Settings()
    if follow_symlinks:
        settings.ingest.follow_symlinks = True
    return Pipeline.from_settings(settings)


def _ensure_corpus(pipe: Pipeline, quiet: bool) -> None:
    pipe.ensure_corpus(progress=not quiet, notify=lambda m: print(f"rag: {safe(m)}", file=sys.stderr))


def _wrap(text: str, indent: str = "") -> str:
    width = min(100, max(40, os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else 100))
    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent)


def format_sources(a: Answer, show_retrieved: bool = False) -> str:
    """The part printed after the answer text: notice, numbered sources with quotes, timing."""
    out = []
    if a.unverified:
        out.append(
            f"(sentences {', '.join(str(i + 1) for i in a.unverified)} could not be verified against the sources)"
        )
    if a.citations:
        out.append("")
        out.append("Sources:")
        for c in a.citations:
            meta = ", ".join(safe(x) for x in (c.publisher or "publisher unknown", c.date) if x)
            out.append(f"  [{c.n}] {safe(c.title)}" + (f" — {meta}" if meta else "") + f"  ({safe(c.source)})")
            for q in c.quotes or ():
                # A hard-wrapped quote reads as one line here; --json keeps it verbatim, breaks and all.
                out.append(_wrap(safe(f"“{' '.join(q.text.split())}”"), indent="      "))
    if show_retrieved:
        out.append("")
        out.append("Retrieved:")
        for r in a.retrieved:
            snippet = safe(" ".join(r.text.split())[:90])
            out.append(f"  {r.rank}. {r.score:.3f}  {safe(r.source)}  {snippet}…")
    if a.standalone_question:
        out.append("")
        out.append(_wrap(safe(f"Searched as: {a.standalone_question}")))
        out.append(f"  (to ask it as a new question: rag ask {safe(shlex.quote(a.standalone_question))})")
    if a.notice:
        out.append("")
        out.append(f"Note: {safe(a.notice)}")
    ms = a.timings_ms.get("total")
    if ms is not None:
        out.append("")
        served = f" · {a.served_model}" if a.served_model else ""
        out.append(f"({a.mode}{served}, {ms:.0f} ms)")
    return "\n".join(out)


def format_answer(a: Answer, show_retrieved: bool = False) -> str:
    """Human-readable answer: the text, then numbered sources with their quotes."""
    return _wrap(safe(a.text)) + "\n" + format_sources(a, show_retrieved)


def _cmd_ingest(args: argparse.Namespace) -> int:
    pipe = _pipeline(follow_symlinks=args.follow_symlinks)
    report = pipe.ingest(
        args.paths or None,
        prune=args.prune,
        rebuild=args.rebuild,
        progress=not args.quiet and not args.json,
        wait=not args.no_wait,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        for path, note in report.notes:
            print(f"note: {safe(path)}: {safe(note)}", file=sys.stderr)
        if report.hidden:
            shown = ", ".join(safe(Path(h).name) for h in report.hidden[:5])
            more = f" and {len(report.hidden) - 5} more" if len(report.hidden) > 5 else ""
            print(
                f"note: skipped {len(report.hidden)} hidden file(s)/folder(s) (names starting with '.'): {shown}{more}",
                file=sys.stderr,
            )
        for path, error in report.failed:
            print(f"failed: {safe(path)}: {safe(error)}", file=sys.stderr)
        print(report.summary())
    return 1 if report.failed else 0


def _check_question(question: str) -> None:
    """Refuse an empty question before the (seconds-long) pipeline build."""
    from rag.errors import EmptyQuestionError

    if not "".join(ch for ch in question if ch.isprintable()).split():
        raise EmptyQuestionError(
            'the question is empty: ask something, e.g. rag ask "Why does ISKP oppose the Taliban?"'
        )


def _cmd_ask(args: argparse.Namespace) -> int:
    _check_question(args.question)
    pipe = _pipeline()
    _ensure_corpus(pipe, quiet=args.json)
    if args.json or not sys.stdout.isatty():
        answer = pipe.ask(args.question, top_k=args.top_k, mode=args.mode)
        if args.json:
            print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        else:
            print(format_answer(answer, show_retrieved=args.show_retrieved))
        return 0
    # On a terminal, print each verified sentence as soon as it is ready.
    final: Answer | None = None
    for event in pipe.ask_stream(args.question, top_k=args.top_k, mode=args.mode):
        if event.kind == "delta":
            print(safe(event.text), end="", flush=True)
        elif event.kind == "answer":
            final = event.answer
    print()
    if final is not None:
        print(format_sources(final, show_retrieved=args.show_retrieved))
    return 0


def _cmd_sources(args: argparse.Namespace) -> int:
    pipe = _pipeline()
    if args.show:
        doc = pipe.document(args.show)
        if not doc.flagged:
            print(safe_text(doc.text))
            return 0
        print(safe_text(doc.marked_text()))
        print()
        print(f"⟦…⟧ {len(doc.flagged)} sentence(s) read as instructions to an assistant: kept, never used as evidence")
        for f in doc.flagged:
            print(f"    {safe(f.rule)}: {safe(' '.join(f.text.split()))}")
        return 0
    infos = pipe.sources()
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2, ensure_ascii=False))
        return 0
    if not infos:
        print("No documents yet: run `rag ingest` (or just `rag ask …`, which ingests the seeds).")
        return 0
    for i in infos:
        meta = " · ".join(safe(x) for x in (i.meta.publisher, i.meta.author, i.meta.date) if x)
        print(f"{safe(i.source)}  {i.chunks} chunks  {safe(i.meta.title or '(untitled)')}")
        if meta:
            print(f"    {meta}")
        if i.flagged:
            print(
                f"    {len(i.flagged)} instruction-like sentence(s) flagged, never used as evidence "
                f"(rag sources --show {safe(i.source)})"
            )
        if args.show_removed:
            for r in i.removed:
                print(f"    removed line {r.line} ({safe(r.rule)}): {safe(r.text)}")
    total = sum(i.chunks for i in infos)
    print(f"{len(infos)} documents, {total} chunks")
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from rag.ui import launch

    return launch(host=args.host, port=args.port, share=args.share)


COMMANDS: dict[str, Any] = {"ingest": _cmd_ingest, "ask": _cmd_ask, "sources": _cmd_sources, "chat": _cmd_chat}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rag`` console script."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    argv = list(sys.argv[1:] if argv is None else argv)
    # A built-in command needs no plugin: loading them would put the eval suite on `rag ask`'s cold start.
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = _parser(plugins=command not in COMMANDS)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from rag.errors import InputError, RagError

    handler = getattr(args, "handler", None) or COMMANDS[args.command]
    try:
        code = int(handler(args))
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
        return code
    except InputError as exc:
        _err(str(exc))
        return 2
    except RagError as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted; the store is consistent — rerun the command to finish")
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (``rag ask … | head``): stop quietly, as SIGPIPE would."""
    # Point stdout at /dev/null so the interpreter's final flush does not raise again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    raise SystemExit(main())
