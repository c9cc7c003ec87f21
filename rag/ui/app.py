"""The Gradio chat UI: queued, streamed, stoppable answers with clickable citations, sources and upload.

``rag chat`` calls :func:`launch`; tests build the page with :func:`build_app` and serve it with
``demo.launch(**launch_options(settings), ...)``. Gradio is imported here only, never by ``import rag``.
HTML comes from :mod:`rag.ui.transcript`, :mod:`rag.ui.evidence` and :mod:`rag.ui.documents` (helpers in
:mod:`rag.ui.markup`, the conversation in :mod:`rag.ui.chat`), the answering loop from :mod:`rag.ui.session`,
upload storage from :mod:`rag.ui.uploads`, their background ingest from :mod:`rag.ui.jobs`, the login throttle
from :mod:`rag.ui.throttle`, and the page's CSS and JavaScript from ``rag/ui/static/``.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.events import api as gr_api

from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.ui.chat import Chat
from rag.ui.documents import render_document, render_sources
from rag.ui.evidence import render_evidence
from rag.ui.jobs import UploadJob, UploadQueue
from rag.ui.markup import clean_title, e
from rag.ui.session import GENERIC_ERROR, TOP_K_RANGE, Session, answer_turn, clamp_top_k
from rag.ui.throttle import LoginThrottle, ThrottleMiddleware
from rag.ui.transcript import follow_ups, render_chat
from rag.ui.uploads import UploadResults, uploads_dir

__all__ = ["SEED_EXAMPLES", "app_kwargs", "build_app", "launch", "launch_options"]

log = logging.getLogger(__name__)

#: Example questions shown on the empty chat when the seed articles are in the store.
SEED_EXAMPLES: tuple[str, ...] = (
    "Why does ISKP oppose the Taliban?",
    "What is the difference between the Taliban and Isis?",
    "In which Afghan province did Isis establish the ISKP?",
    "Which former ISIS-K leader did the Taliban execute after capturing Kabul?",
    "Roughly how many troops does the Taliban have?",
)
_SEED_TOPIC = (
    "news articles on the conflict between the Taliban and the Islamic State's Khorasan branch (ISKP / ISIS-K)"
)
_FOLLOW_UPS = 3
_STATIC = Path(__file__).with_name("static")


@cache
def _static(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


def launch_options(settings: Settings) -> dict[str, Any]:
    """Page options Gradio 6 takes at ``launch()`` (theme, CSS, upload size cap, footer "Use via API" link)."""
    # Gradio's bundled IBM Plex Sans SemiBold is a subset (missing glyphs fall back mid-word): skip weight 600.
    theme = gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=[
            gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)),
            "ui-sans-serif",
            "system-ui",
            "sans-serif",
        ],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400,)), "ui-monospace", "monospace"],
    ).set(
        # AA contrast: the theme's defaults put slate-400 text on near-white (2.45:1) and white on indigo-500.
        body_text_color_subdued="#475569",
        input_placeholder_color="#64748b",
        button_primary_background_fill="#4338ca",
        button_primary_background_fill_hover="#3730a3",
        button_primary_text_color="#ffffff",
        block_label_text_color="#334155",
        block_info_text_color="#475569",
        block_title_text_color="#334155",
        checkbox_label_background_fill_selected="#4338ca",
        checkbox_label_text_color_selected="#ffffff",
        checkbox_background_color_selected="#4338ca",
    )
    # The server-side cap leaves room above the per-file limit so oversized files get our own message.
    cap_mb = max(1, int(settings.ui.max_upload_mb * 2 + 1))
    return {"theme": theme, "css": _static("app.css"), "max_file_size": f"{cap_mb}mb", "footer_links": ["api"]}


# -- corpus ---------------------------------------------------------------------------------------


def _seed_count(pipeline: Pipeline) -> int:
    """How many stored documents are seed articles (by file name)."""
    seeds = pipeline.settings.ingest.seeds_path
    try:
        names = {p.name for p in seeds.iterdir()} if seeds.is_dir() else set()
    except OSError:
        return 0
    return sum(1 for d in pipeline.sources() if d.source in names)


def _corpus_line(pipeline: Pipeline) -> str:
    infos = pipeline.sources()
    if not infos:
        return "The document store is empty: add documents in the Sources tab."
    chunks = sum(i.chunks for i in infos)
    dates = sorted(d for d in (i.meta.date for i in infos) if d)
    span = ""
    if dates:
        first, last = dates[0][:4], dates[-1][:4]
        span = f", {first}" if first == last else f", {first}–{last}"
    seeds = _seed_count(pipeline)
    head = f"<b>{len(infos)} document{'s' if len(infos) != 1 else ''}</b> ({chunks:,} passages{span})"
    if not seeds:
        return head + "."
    added = len(infos) - seeds
    more = f", plus {added} added document{'s' if added != 1 else ''}" if added else ""
    return f"{head}: {e(_SEED_TOPIC)}{more}."


def _header_html(pipeline: Pipeline) -> str:
    return (
        '<div id="header"><h1>Ask the documents</h1>'
        '<p class="tagline">Answers only from the documents below; every sentence proved by a cited quote.</p>'
        f'<p class="corpus">{_corpus_line(pipeline)}</p></div>'
    )


def _header_html_error(message: str) -> str:
    return f'<div id="header"><h1>Ask the documents</h1><p class="corpus">{e(message)}</p></div>'


def _doc_choices(pipeline: Pipeline) -> list[tuple[str, str]]:
    return [(f"{clean_title(i.meta.title) or i.source} — {i.source}", i.source) for i in pipeline.sources()]


def _document_html(pipeline: Pipeline, key: str | None) -> str:
    if not key:
        return render_document(None)
    try:
        return render_document(pipeline.document(key))
    except RagError as exc:
        return render_document(None, str(exc))


def _upload_paths(files: Any) -> list[tuple[str, Path]]:
    """(original name, temporary path) of what a ``gr.File(file_count="multiple")`` delivered."""
    if not files:
        return []
    items = files if isinstance(files, list) else [files]
    out: list[tuple[str, Path]] = []
    for f in items:
        path = Path(f if isinstance(f, str | Path) else getattr(f, "name", None) or f["path"])
        orig = getattr(f, "orig_name", None)  # gradio keeps the original name as the temp file's name too
        out.append((str(orig or path.name), path))
    return out


_ICONS = {"added": ("ok", "✓"), "updated": ("ok", "✓"), "unchanged": ("same", "="), "refused": ("bad", "✗")}


def _upload_html(jobs: Sequence[UploadJob]) -> str:
    """One line per uploaded file (queued, ingesting n of m passages, or its outcome) under a count."""
    if not jobs:
        return ""
    done = UploadResults([j.outcome for j in jobs if j.outcome is not None])
    busy = [j for j in jobs if j.outcome is None]
    running = sum(1 for j in busy if j.state == "ingesting")
    counts = [done.summary()] if done.outcomes else []
    counts += [f"{running} ingesting"] if running else []
    counts += [f"{len(busy) - running} queued"] if len(busy) > running else []
    items = []
    for j in jobs:
        if j.outcome is not None:
            cls, icon = _ICONS[j.outcome.kind]
        else:
            cls, icon = "busy", "…"
        bar = ""
        if j.state == "ingesting" and j.total:
            bar = f' <progress max="{j.total}" value="{j.written}" aria-hidden="true"></progress>'
        items.append(f'<li class="{cls}">{icon} <b>{e(j.name)}</b>: {e(j.line())}{bar}</li>')
    return f'<div class="upload-count">{e(" · ".join(counts))}</div><ul>{"".join(items)}</ul>'


def _is_upload(pipeline: Pipeline, path: str) -> bool:
    folder = uploads_dir(pipeline.settings.store.path).resolve()
    try:
        return Path(path).resolve().is_relative_to(folder)
    except OSError:
        return False


# -- the app --------------------------------------------------------------------------------------


def _model_label(settings: Settings) -> str | None:
    """The LLM's name until an answer reports the served one: a custom server ignores the default model name."""
    llm = settings.llm
    if not llm.configured():
        return None
    base = llm.resolved_base_url()
    if base and "model" not in llm.model_fields_set:
        host = urllib.parse.urlsplit(base).netloc or base
        return f"the model served at {host}"
    return llm.model


def build_app(pipeline: Pipeline, *, examples: Sequence[str] | None = None) -> gr.Blocks:
    """The chat page over ``pipeline`` (construction only; serve it with ``launch``)."""
    settings = pipeline.settings
    if examples is None:
        examples = SEED_EXAMPLES if _seed_count(pipeline) > 0 else ()
    llm = settings.llm.configured()
    model = _model_label(settings)
    mode_choices = [("Extractive (quotes only)", "extractive")]
    if llm:
        mode_choices.append((f"LLM ({model}, verified)", "llm"))
    default_mode = "llm" if llm and settings.answer.mode in ("auto", "llm") else "extractive"
    exts = sorted({e.lower() for e in settings.ingest.extensions})
    limit = settings.answer.max_question_chars
    lookup = pipeline.document
    uploads = UploadQueue(pipeline)

    def chat_html(session: Session) -> str:
        return render_chat(session.chat, model)

    def evidence_html(session: Session) -> str:
        return render_evidence(session.chat, lookup)

    async def enqueue(question: str, session: Session, top_k: float, mode: str) -> tuple[Any, ...]:
        # Async: runs on the event loop in arrival order, so questions queue in the order they were sent.
        k = clamp_top_k(top_k)
        turn = session.enqueue(question, k, mode, limit)
        raw_k = top_k if isinstance(top_k, int | float) else None
        slider = gr.update(value=k) if raw_k is not None and raw_k != k else gr.skip()
        if turn is None:
            return gr.skip(), gr.skip(), slider
        turn.raw = question
        return chat_html(session), gr.update(visible=False), slider

    def follow_up_updates(session: Session) -> list[Any]:
        answered = [t for t in session.chat.turns if t.answer is not None]
        suggestions = follow_ups(answered[-1].answer if answered else None, _FOLLOW_UPS)
        row = gr.update(visible=bool(suggestions))
        buttons = [
            gr.update(value=suggestions[i], visible=True) if i < len(suggestions) else gr.update(visible=False)
            for i in range(_FOLLOW_UPS)
        ]
        return [row, *buttons]

    def drain(session: Session) -> Iterator[tuple[Any, ...]]:
        skip = tuple(gr.skip() for _ in range(4 + _FOLLOW_UPS))
        if not session.claim():  # the loop already running for this session answers this question too
            yield skip
            return
        try:
            yield chat_html(session), gr.skip(), gr.update(interactive=True), *skip[3:]
            while (nxt := session.next_turn()) is not None:
                index, turn = nxt
                for _ in answer_turn(pipeline, session, index, turn, turn.raw or turn.question, model):
                    if turn.finished:  # the answer and its evidence arrive together: a chip always finds its card
                        yield chat_html(session), evidence_html(session), gr.skip(), *follow_up_updates(session)
                    else:
                        yield chat_html(session), gr.skip(), gr.skip(), *skip[3:]
        finally:
            session.release()
        # Only the Stop button changes now: redrawing the transcript would drop the focus a chip may have.
        yield gr.skip(), gr.skip(), gr.update(interactive=False), *skip[3:]

    async def stop(session: Session) -> None:
        session.stop.set()

    def clear(session: Session) -> tuple[Any, ...]:
        session.clear()
        return (
            chat_html(session),
            evidence_html(session),
            gr.update(visible=bool(examples)),
            *[gr.update(visible=False)] * (1 + _FOLLOW_UPS),
        )

    def api_ask(question: str) -> str:
        """Answer a question from the documents; every sentence ends in [n] citation markers."""
        try:
            answer = pipeline.ask(question)
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception:
            log.exception("api ask failed")
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None
        # The notice (a truncated question, an empty store) travels with the text, after it.
        return answer.text + (f"\n\nNote: {answer.notice}" if answer.notice else "")

    def refresh_sources(needle: str, selected: str | None) -> tuple[Any, ...]:
        try:
            choices = _doc_choices(pipeline)
            keep = selected if selected in {v for _, v in choices} else None
            return (
                _header_html(pipeline),
                render_sources(pipeline.sources(), needle or "", keep),
                gr.update(choices=choices, value=keep),
                _document_html(pipeline, keep),
            )
        except RagError as exc:
            return _header_html_error(str(exc)), gr.skip(), gr.skip(), gr.skip()

    def upload(files: Any, replace: bool, shown: list[int]) -> tuple[Any, ...]:
        # Stored and queued at once; the timer shows the ingest's progress and each file's result.
        try:
            jobs = uploads.submit(_upload_paths(files), replace=bool(replace))
        except Exception:
            log.exception("upload failed")
            return f'<div class="bad">{e(GENERIC_ERROR)}</div>', None, shown, gr.skip(), gr.skip()
        # Lines of earlier uploads stay while they are still being ingested.
        ids = [j.id for j in uploads.jobs(shown) if j.state != "done"] + [j.id for j in jobs]
        now = uploads.jobs(ids)
        done = sum(1 for j in now if j.state == "done")
        return _upload_html(now), None, ids, done, gr.Timer(active=True)

    def upload_tick(shown: list[int], done_before: int, needle: str, selected: str | None) -> tuple[Any, ...]:
        jobs = uploads.jobs(shown)
        done = sum(1 for j in jobs if j.state == "done")
        timer = gr.skip() if done < len(jobs) else gr.Timer(active=False)
        # The document list changes only when a file's ingest ended.
        sources = refresh_sources(needle, selected) if done != done_before else (gr.skip(),) * 4
        return _upload_html(jobs), done, timer, *sources

    def open_key(key: str) -> Any:
        source = (key or "").split("\x00", 1)[0]
        return gr.update(value=source) if source else gr.skip()

    def show_document(key: str | None, needle: str) -> tuple[str, str, Any, Any]:
        table = render_sources(pipeline.sources(), needle or "", key)
        on = gr.update(interactive=bool(key))
        return _document_html(pipeline, key), table, on, on

    def ask_remove(key: str | None) -> tuple[Any, Any, Any]:
        if not key:
            return gr.update(visible=False), gr.skip(), gr.skip()
        path = next((i.path for i in pipeline.sources() if i.source == key), "")
        can_delete = bool(path) and _is_upload(pipeline, path)
        choices = [("Keep the file on disk", "keep")]
        if can_delete:
            choices.append(("Delete the uploaded file too", "delete"))
        where = "" if can_delete else " (it is not an upload, so the file itself is always kept)"
        return (
            gr.update(visible=True),
            f"<p>Remove <b>{e(key)}</b> from the store? Its passages stop being used for answers{where}.</p>",
            gr.update(choices=choices, value="keep"),
        )

    def do_remove(key: str | None, what: str, needle: str) -> tuple[Any, ...]:
        if not key:
            return (gr.update(visible=False), "", *refresh_sources(needle, None))
        try:
            path = next((i.path for i in pipeline.sources() if i.source == key), "")
            delete = what == "delete" and bool(path) and _is_upload(pipeline, path)
            info = pipeline.remove(key, delete_file=delete)
            done = "and deleted its file" if delete else "(its file is kept)"
            msg = f'<div class="ok" role="status">Removed {e(info.source)} from the store {done}.</div>'
        except RagError as exc:
            msg = f'<div class="bad" role="status">{e(exc)}</div>'
        return (gr.update(visible=False), msg, *refresh_sources(needle, None))

    def do_reindex(key: str | None, needle: str) -> tuple[Any, ...]:
        if not key:
            return ("", *refresh_sources(needle, None))
        try:
            report = pipeline.reindex(key)
            if report.failed:
                msg = f'<div class="bad" role="status">{e("; ".join(r for _, r in report.failed))}</div>'
            else:
                passages = f"{report.chunks} passage{'s' if report.chunks != 1 else ''}"
                msg = f'<div class="ok" role="status">Re-indexed {e(key)}: {passages}.</div>'
        except RagError as exc:
            msg = f'<div class="bad" role="status">{e(exc)}</div>'
        return (msg, *refresh_sources(needle, key))

    with gr.Blocks(title="rag — cited answers", analytics_enabled=False) as demo:
        header = gr.HTML(_header_html(pipeline), elem_id="header-box")
        # Initial values, not factories: gr.State deep-copies one for each browser session when it is first
        # used, while a factory is called by a page-load event that can finish after a question sent at
        # once and replace the conversation holding it.
        session = gr.State(Session())
        with gr.Tabs():
            with gr.Tab("Chat", id="chat", elem_id="tab-chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=340, elem_id="chat-col"):
                    # No gradio autoscroll: it scrolls to the bottom 300 ms after any update, even one
                    # that changed nothing, under a reader who has just scrolled up to use a chip.
                    # transcript.js follows the answer only while the reader is at the bottom.
                    answer = gr.HTML(render_chat(Chat()), elem_id="answer", js_on_load=_static("transcript.js"))
                    with gr.Row(equal_height=True, elem_id="ask-row"):
                        question = gr.Textbox(
                            placeholder="Ask a question about the documents… (Enter to send)",
                            label="Your question",
                            show_label=False,
                            lines=1,
                            max_lines=4,
                            scale=8,
                            elem_id="question",
                            autofocus=True,
                            container=False,
                        )
                        ask = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="ask")
                        stop_btn = gr.Button("Stop", scale=1, min_width=70, elem_id="stop", interactive=False)
                        clear_btn = gr.Button("Clear", scale=1, min_width=70, elem_id="clear")
                    gr.HTML(
                        f'<div id="limits-note">Questions up to {limit:,} characters; more are cut, with a note. '
                        "Questions sent while an answer is written wait their turn.</div>",
                        elem_id="limits-box",
                    )
                    with gr.Row(elem_id="examples", visible=bool(examples)) as examples_row:
                        example_buttons = [
                            gr.Button(q, size="sm", variant="secondary", elem_classes=["example"]) for q in examples
                        ]
                    with gr.Row(elem_id="follow-ups", visible=False) as follow_row:
                        follow_buttons = [
                            gr.Button("", size="sm", variant="secondary", visible=False, elem_classes=["follow-up"])
                            for _ in range(_FOLLOW_UPS)
                        ]
                    with gr.Accordion("Settings", open=False, elem_id="settings"):
                        top_k = gr.Slider(
                            TOP_K_RANGE[0], TOP_K_RANGE[1], value=clamp_top_k(settings.retrieve.top_k), step=1,
                            label=f"Passages retrieved (top-k, {TOP_K_RANGE[0]}–{TOP_K_RANGE[1]})",
                            info="Used by the next question.", elem_id="top-k",
                        )  # fmt: skip
                        mode = gr.Radio(
                            mode_choices,
                            value=default_mode,
                            label="Answer mode",
                            info="Used by the next question."
                            if llm
                            else "LLM answers need an endpoint (RAG_LLM_BASE_URL or OPENAI_API_KEY).",
                            elem_id="mode",
                        )
                        show_retrieved = gr.Checkbox(
                            False,
                            label="Show retrieved chunks with scores (debug; applies to every answer at once)",
                            elem_id="show-retrieved",
                        )
                with gr.Column(scale=2, min_width=320, elem_id="evidence-col"):
                    evidence = gr.HTML(
                        render_evidence(Chat(), lookup), elem_id="evidence", js_on_load=_static("evidence.js")
                    )
            with gr.Tab("Sources", id="sources", elem_id="tab-sources"):
                sources_filter = gr.Textbox(
                    label="Filter documents", placeholder="title, file, publisher, author or date",
                    elem_id="sources-filter", max_lines=1,
                )  # fmt: skip
                table = gr.HTML(
                    render_sources(pipeline.sources()), elem_id="sources-table", js_on_load=_static("sources.js")
                )
                doc_key = gr.Textbox(label="Document to open", elem_id="doc-key", elem_classes=["visually-hidden"])
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        with gr.Row(equal_height=True):
                            doc_choice = gr.Dropdown(
                                choices=_doc_choices(pipeline), value=None, label="Read a document", scale=4,
                                elem_id="doc-choice",
                            )  # fmt: skip
                            reindex_btn = gr.Button("Re-index", scale=1, min_width=90, elem_id="reindex",
                                                    interactive=False)  # fmt: skip
                            remove_btn = gr.Button("Remove…", scale=1, min_width=90, elem_id="remove",
                                                   variant="stop", interactive=False)  # fmt: skip
                        with gr.Group(visible=False, elem_id="remove-confirm") as confirm:
                            confirm_text = gr.HTML("", elem_id="remove-question")
                            remove_what = gr.Radio(
                                [("Keep the file on disk", "keep")],
                                value="keep",
                                label="The file",
                                elem_id="remove-file",
                            )
                            with gr.Row():
                                remove_yes = gr.Button("Remove from the store", variant="stop", elem_id="remove-yes")
                                remove_no = gr.Button("Cancel", elem_id="remove-no")
                        manage_status = gr.HTML("", elem_id="manage-status")
                        doc_view = gr.HTML(render_document(None), elem_id="doc-view")
                    with gr.Column(scale=2, min_width=300):
                        files = gr.File(
                            # No file_types filter: every file reaches the upload queue, so each refused
                            # one gets its reason in #upload-status beside the accepted ones.
                            file_count="multiple",
                            label=f"Add documents ({' '.join(exts)}; up to {settings.ui.max_upload_mb:g} MB each)",
                            elem_id="upload",
                        )
                        replace = gr.Checkbox(
                            False,
                            label="Replace a stored upload that has the same name (otherwise both are kept)",
                            elem_id="upload-replace",
                        )
                        upload_status = gr.HTML("", elem_id="upload-status", js_on_load=_static("status.js"))
                        upload_jobs = gr.State([])
                        upload_done = gr.State(0)
                        upload_timer = gr.Timer(1.0, active=False)

        private: dict[str, Any] = {"show_progress": "hidden", "api_visibility": "private"}
        drain_out = [answer, evidence, stop_btn, follow_row, *follow_buttons]
        enqueue_out = [answer, examples_row, top_k]
        quick: dict[str, Any] = {**private, "concurrency_limit": None, "trigger_mode": "multiple"}
        submit_js = _static("submit.js")
        for trigger, source, js in (
            (question.submit, question, submit_js),
            (ask.click, question, submit_js),
            *((b.click, b, None) for b in (*example_buttons, *follow_buttons)),
        ):
            trigger(enqueue, inputs=[source, session, top_k, mode], outputs=enqueue_out, js=js, **quick).then(
                drain, inputs=[session], outputs=drain_out, trigger_mode="multiple", **private
            )
        stop_btn.click(stop, inputs=[session], outputs=None, **quick)
        clear_btn.click(
            clear, inputs=[session], outputs=[answer, evidence, examples_row, follow_row, *follow_buttons], **quick
        )
        show_retrieved.change(
            None,
            inputs=[show_retrieved],
            outputs=None,
            js="(show) => { document.getElementById('evidence-col')?.classList.toggle('show-retrieved', !!show); }",
            **private,
        )
        gr_api(api_ask, api_name="ask")

        sources_out = [header, table, doc_choice, doc_view]
        # Everything that redraws the Sources view runs one at a time, in the order it was sent: each
        # draws from the inputs it was sent with, so a slow, older event (a remove, then the selection
        # it clears) finishing after a newer one (the filter typed since) would bring back the old view.
        in_order: dict[str, Any] = {**private, "concurrency_id": "sources-view", "concurrency_limit": 1}
        files.upload(
            upload,
            inputs=[files, replace, upload_jobs],
            outputs=[upload_status, files, upload_jobs, upload_done, upload_timer],
            concurrency_limit=1,
            **private,
        )
        upload_timer.tick(
            upload_tick,
            inputs=[upload_jobs, upload_done, sources_filter, doc_choice],
            outputs=[upload_status, upload_done, upload_timer, *sources_out],
            **in_order,
        )
        sources_filter.change(
            lambda needle, key: render_sources(pipeline.sources(), needle or "", key),
            inputs=[sources_filter, doc_choice],
            outputs=[table],
            **in_order,
        )
        doc_key.change(open_key, inputs=[doc_key], outputs=[doc_choice], **in_order)
        doc_choice.change(
            show_document,
            inputs=[doc_choice, sources_filter],
            outputs=[doc_view, table, reindex_btn, remove_btn],
            **in_order,
        )
        remove_btn.click(ask_remove, inputs=[doc_choice], outputs=[confirm, confirm_text, remove_what], **private)
        remove_no.click(lambda: gr.update(visible=False), inputs=None, outputs=[confirm], **private)
        remove_yes.click(
            do_remove,
            inputs=[doc_choice, remove_what, sources_filter],
            outputs=[confirm, manage_status, *sources_out],
            **in_order,
        )
        reindex_btn.click(
            do_reindex,
            inputs=[doc_choice, sources_filter],
            outputs=[manage_status, *sources_out],
            **in_order,
        )
        demo.load(refresh_sources, inputs=[sources_filter, doc_choice], outputs=sources_out, **in_order)
    demo.queue(default_concurrency_limit=4)
    return demo


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, settings: Settings | None = None) -> int:
    """Serve the chat UI until interrupted (ingests the seed documents into an empty store first)."""
    settings = settings or Settings()
    pipeline = Pipeline.from_settings(settings)
    pipeline.ensure_corpus(progress=True, notify=lambda m: print(f"rag: {m}", file=sys.stderr))
    pipeline.warm()
    demo = build_app(pipeline)
    user = settings.ui.username
    password = settings.ui.password.get_secret_value() if settings.ui.password else None
    auth = (user, password) if user and password else None
    if (user or password) and auth is None:
        print(
            "rag: set both RAG_UI_USERNAME and RAG_UI_PASSWORD to require a login; serving without one", file=sys.stderr
        )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    hint = "" if share else "; add --share for a public link"
    print(f"rag: chat UI at http://{shown}:{port} (Ctrl+C to stop{hint})", file=sys.stderr)
    # SIGTERM (service managers, `docker stop`) closes the server like Ctrl+C does.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            share=share,
            auth=auth,
            inbrowser=False,
            quiet=True,
            app_kwargs=app_kwargs(auth is not None),
            **launch_options(settings),
        )
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def app_kwargs(login: bool, throttle: LoginThrottle | None = None) -> dict[str, Any]:
    """FastAPI options for ``launch(app_kwargs=...)``: with a login, failed logins are throttled per client."""
    if not login:
        return {}
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(ThrottleMiddleware, throttle=throttle or LoginThrottle())]}


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
