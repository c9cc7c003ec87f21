"""Issue 14's holes, met the way a user meets them: the real ``rag`` process on a real store."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, make_corpus

from rag.errors import IngestError
from rag.pipeline import Pipeline
from rag.settings import Settings

RAG = str(Path(sys.executable).parent / "rag")
SEED = SEEDS / "001_8ce81ff0f6d118bf.txt"


def _env(cwd: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["RAG_STORE_PATH"] = str(cwd / ".rag" / "chroma")
    env["RAG_INGEST_SEEDS_PATH"] = str(ROOT / "seeds")
    env.update(extra)
    return env


def _rag(*args: str, cwd: Path, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAG, *args], cwd=cwd, env=_env(cwd, **extra), capture_output=True, text=True, timeout=timeout
    )


def _own_docs(tmp_path: Path) -> Path:
    docs = tmp_path / "mine"
    docs.mkdir()
    (docs / "harvest.txt").write_text(
        "The Glimmerfruit Harvest of Velloran\n\n"
        "The glimmerfruit harvest of Velloran begins when the river mist lifts in late autumn. "
        "Pickers climb the terraces at dawn and carry the fruit down in woven baskets.\n",
        encoding="utf-8",
    )
    return docs


# -- 2. an emptied or corrupted store is an error, never silently re-seeded ----------------------------


def test_emptied_store_is_an_error_and_is_not_reseeded(tmp_path: Path) -> None:
    assert _rag("ingest", str(_own_docs(tmp_path)), "-q", cwd=tmp_path).returncode == 0
    db = tmp_path / ".rag" / "chroma" / "chroma.sqlite3"
    db.write_bytes(b"")  # `: > chroma.sqlite3`
    r = _rag("ask", "When does the glimmerfruit harvest begin?", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "exists but holds no documents" in r.stderr and "0 bytes" in r.stderr
    assert "restore it from a backup" in r.stderr and "rag ingest --rebuild" in r.stderr
    assert "ingesting" not in r.stderr and "Traceback" not in r.stderr
    # Nothing was put in the user's store behind their back.
    assert json.loads(_rag("sources", "--json", cwd=tmp_path).stdout) == []


def test_a_new_store_is_still_seeded(tmp_path: Path) -> None:
    r = _rag("ask", "Why does ISKP oppose the Taliban?", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "is empty; ingesting" in r.stderr and json.loads(r.stdout)["citations"]


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_corrupt_store_names_corruption_not_permissions(tmp_path: Path, damage: str) -> None:
    assert _rag("ingest", str(_own_docs(tmp_path)), "-q", cwd=tmp_path).returncode == 0
    db = tmp_path / ".rag" / "chroma" / "chroma.sqlite3"
    data = bytearray(db.read_bytes())
    if damage == "header":
        data[:16] = b"this is not sql!"  # SQLite: "file is not a database"
    else:
        page = 4096
        for p in range(1, len(data) // page):  # every page but the first: "database disk image is malformed"
            data[p * page : p * page + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))
    r = _rag("ask", "When does the glimmerfruit harvest begin?", cwd=tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "corrupt" in r.stderr and "backup" in r.stderr, r.stderr
    assert "permission" not in r.stderr.lower() and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# -- 4. one symlink rule ------------------------------------------------------------------------------


def test_a_symlink_named_directly_follows_the_same_rule_as_in_a_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.txt").write_text("root:x:0:0:root:/root:/bin/bash is the first line of the secret file.\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "p.txt").symlink_to(outside / "passwd.txt")
    r = _rag("ingest", "p.txt", "-q", cwd=work)
    assert r.returncode == 1 and "outside the paths named" in r.stderr and "--follow-symlinks" in r.stderr
    assert "No documents" in _rag("sources", cwd=work).stdout
    # Inside what was named, a symlink is fine; --follow-symlinks follows the rest.
    r = _rag("ingest", "p.txt", str(outside), "-q", cwd=work)
    assert r.returncode == 0 and "1 added" in r.stdout, r.stderr
    r = _rag("ingest", "p.txt", "-q", "--follow-symlinks", "--rebuild", cwd=work)
    assert r.returncode == 0 and "1 added" in r.stdout, r.stderr
    help_text = _rag("ingest", "--help", cwd=work).stdout
    assert "symlink" in help_text and "points inside" in " ".join(help_text.split())


# -- 5. terminal and pipe hygiene ----------------------------------------------------------------------


def test_escape_sequences_in_names_never_reach_the_terminal(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEED, docs / "\x1b[2J\x1b[31mevil.txt")
    shutil.copy(SEEDS / "000_68d4cd3cd5c6032c.txt", docs / "two\nlines.txt")
    r = _rag("ingest", str(docs), cwd=tmp_path)
    assert r.returncode == 0 and "2 added" in r.stdout, r.stderr
    listing = _rag("sources", cwd=tmp_path).stdout
    answer = _rag("ask", "Why does ISIS-K confront the Taliban?", cwd=tmp_path)
    for out in (listing, answer.stdout, answer.stderr, r.stderr):
        assert "\x1b" not in out
    assert "\\x1b[2J\\x1b[31mevil.txt" in listing and "two\\nlines.txt" in listing
    assert len([ln for ln in listing.splitlines() if "chunks" in ln and ".txt" in ln]) == 2
    assert "\\x1b[2J" in answer.stdout


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    # Longer than a pipe's buffer, so the write after `head` exits must fail.
    paras = [f"Report {i}: the council of Herat met again on day {i} to discuss the water supply." for i in range(1000)]
    (docs / "long.txt").write_text("\n\n".join(paras), encoding="utf-8")
    assert _rag("ingest", str(docs), "-q", cwd=tmp_path).returncode == 0
    env = _env(tmp_path)
    for cmd in (
        f"{RAG} sources --show long.txt | head -1",
        f'{RAG} ask "What did the council of Herat discuss?" | head -1',
    ):
        r = subprocess.run(
            ["bash", "-o", "pipefail", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert r.stdout.strip(), cmd
        assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
    assert r.returncode in (0, 141)


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    r = _rag("ingest", str(SEEDS), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "\x1b" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines and all(re.fullmatch(r"ingest: \d+/5 files, \d+/\d+ chunks", ln) for ln in lines), lines
    assert lines[-1].startswith("ingest: 5/5 files")


# -- 7. nothing silent ---------------------------------------------------------------------------------


def test_ingesting_a_missing_path_raises(tmp_path: Path) -> None:
    pipe = Pipeline.from_settings(Settings(store={"path": tmp_path / "store"}))
    with pytest.raises(IngestError, match=r"no such file or folder: .*my_docs"):
        pipe.ingest([tmp_path / "my_docs"])
    r = _rag("ingest", "my_docs/", cwd=tmp_path)
    assert r.returncode == 2 and "no such file or folder: my_docs" in r.stderr


def test_hidden_files_are_counted(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEED, docs / "a.txt")
    shutil.copy(SEED, docs / ".draft.txt")
    (docs / ".git").mkdir()
    r = _rag("ingest", str(docs), "-q", cwd=tmp_path)
    assert r.returncode == 0 and "1 added" in r.stdout and "2 hidden skipped" in r.stdout
    assert "skipped 2 hidden" in r.stderr and ".draft.txt" in r.stderr


def test_bad_top_k_and_empty_question_are_refused_before_any_work(tmp_path: Path) -> None:
    r = _rag("ask", "x?", "--top-k", "0", cwd=tmp_path)
    assert r.returncode == 2 and "--top-k" in r.stderr and "at least 1" in r.stderr
    t = time.perf_counter()
    r = _rag("ask", "  \t", cwd=tmp_path)
    elapsed = time.perf_counter() - t
    assert r.returncode == 2 and "question is empty" in r.stderr
    # Refused before the pipeline (and its store) was built.
    assert not (tmp_path / ".rag").exists(), elapsed


# -- 8. one writer at a time ---------------------------------------------------------------------------


def test_a_second_ingest_waits_for_the_first_or_exits(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 12)
    first = subprocess.Popen(
        [RAG, "ingest", str(corpus), "-q"], cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, text=True
    )
    info = tmp_path / ".rag" / "chroma" / "write.lock.json"
    deadline = time.monotonic() + 120
    while not info.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    try:
        assert info.exists(), "the first ingest never took the lock"
        busy = _rag("ingest", str(corpus), "-q", "--no-wait", cwd=tmp_path)
        assert busy.returncode == 1 and f"pid {first.pid}" in busy.stderr and "another ingest" in busy.stderr
        second = _rag("ingest", str(corpus), "-q", cwd=tmp_path)
    finally:
        out, _ = first.communicate(timeout=300)
    assert first.returncode == 0 and "12 added" in out
    assert second.returncode == 0, second.stderr
    assert "waiting for another ingest" in second.stderr and f"pid {first.pid}" in second.stderr
    # The second found the work done instead of doing it again.
    assert "12 unchanged" in second.stdout and "0 chunks embedded" in second.stdout


# -- 9. a read-only store ------------------------------------------------------------------------------


#: Runs a command as user nobody, with no groups.
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _as_nobody(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # As root, permissions never stop a write: run the command as an unprivileged user instead.
    cmd = [*AS_NOBODY, RAG, *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_a_read_only_store_can_be_asked() -> None:
    # Outside pytest's private (0700) temporary root, so that the other user can reach the store.
    tmp_path = Path(tempfile.mkdtemp(prefix="rag-ro-test-"))
    try:
        _read_only_store_can_be_asked(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _read_only_store_can_be_asked(tmp_path: Path) -> None:
    # A checkout inside a private folder (mktemp -d is 0700) keeps the other user from the venv itself.
    reach = subprocess.run([*AS_NOBODY, "test", "-r", RAG])
    if reach.returncode != 0:
        pytest.skip(f"the unprivileged user cannot read {RAG} (a checkout in a private folder)")
    tmp_path.chmod(0o755)
    assert _rag("ingest", str(SEEDS), "-q", cwd=tmp_path).returncode == 0
    store = tmp_path / ".rag" / "chroma"
    (tmp_path / ".rag").chmod(0o755)
    for p in [store, *store.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    env = _env(tmp_path, HOME=str(tmp_path))
    probe = subprocess.run(
        [*AS_NOBODY, "touch", str(store / "probe")],
        capture_output=True,
    )
    assert probe.returncode != 0, "the unprivileged user can write the store: the test proves nothing"
    r = _as_nobody("ask", "Why does ISKP oppose the Taliban?", "--json", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["citations"]
    r = _as_nobody("ingest", str(SEEDS), "--rebuild", "-q", cwd=tmp_path, env=env)
    assert r.returncode == 1 and "read-only" in r.stderr and "RAG_STORE_PATH" in r.stderr, r.stderr
    assert len(list((store).glob("chroma.sqlite3"))) == 1


# -- 10. front matter and HTML dates ---------------------------------------------------------------------


def test_front_matter_and_html_dates_become_metadata(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    body = SEED.read_text(encoding="utf-8")
    (docs / "harvest.md").write_text(
        "---\ntitle: The Glimmerfruit Harvest of Velloran\nauthor: [Mira Tessaly, Oren Vale]\n"
        "date: 2023-10-14\ntags: [fruit]\n---\n\n" + body,
        encoding="utf-8",
    )
    para = "".join(f"<p>{p}</p>" for p in body.split("\n\n") if p.strip())
    (docs / "meta.html").write_text(
        f'<html><head><title>Meta date</title><meta name="date" content="2021-08-27"></head><body>{para}</body></html>'
    )
    (docs / "og.html").write_text(
        '<html><head><title>OG date</title><meta property="article:published_time" '
        f'content="2021-08-28T10:00:00Z"></head><body>{para}</body></html>'
    )
    ld = {"@context": "https://schema.org", "@graph": [{"@type": "NewsArticle", "datePublished": "2021-08-29"}]}
    (docs / "ld.html").write_text(
        f'<html><head><title>LD date</title><script type="application/ld+json">{json.dumps(ld)}</script>'
        f"</head><body>{para}</body></html>"
    )
    pipe = Pipeline.from_settings(Settings(store={"path": tmp_path / "store"}))
    report = pipe.ingest([docs])
    assert len(report.added) == 4, report.failed
    meta = {i.source: i.meta for i in pipe.sources()}
    md = meta["harvest.md"]
    assert md.title == "The Glimmerfruit Harvest of Velloran" and md.author == "Mira Tessaly, Oren Vale"
    assert md.date == "2023-10-14"
    text = pipe.document("harvest.md").text
    assert "title:" not in text and "---" not in text and text.lstrip().startswith(body.split("\n")[0].strip()[:20])
    assert (meta["meta.html"].date, meta["og.html"].date, meta["ld.html"].date) == (
        "2021-08-27",
        "2021-08-28",
        "2021-08-29",
    )


# -- 3. a large document streams --------------------------------------------------------------------------


def _big(folder: Path, paragraphs: int) -> Path:
    folder.mkdir()
    texts = [p for s in sorted(SEEDS.glob("*.txt")) for p in s.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    paras = [f"Section {i}. {texts[i % len(texts)]}" for i in range(paragraphs)]
    path = folder / "big.txt"
    path.write_text("\n\n".join(paras), encoding="utf-8")
    return path


def test_a_large_document_streams_and_a_kill_keeps_its_written_slices(tmp_path: Path) -> None:
    big = _big(tmp_path / "docs", 240)
    env = _env(tmp_path, RAG_INGEST_BATCH_CHUNKS="8")
    proc = subprocess.Popen(
        [RAG, "ingest", str(big)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    buf, written, total = b"", 0, 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        buf += line
        m = re.search(rb"0/1 files, (\d+)/(\d+) chunks", line)
        if m:
            written, total = int(m[1]), int(m[2])
            if written >= total // 3:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.stdout is not None
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, buf
    assert 0 < written < total, buf  # killed mid-document, with slices written
    with Pipeline.from_settings(Settings(store={"path": tmp_path / ".rag" / "chroma"})) as pipe:
        assert pipe.sources() == []  # the document is invisible until complete
        assert pipe.store.count() >= written
    rerun = _rag("ingest", str(big), "-q", cwd=tmp_path, RAG_INGEST_BATCH_CHUNKS="8")
    assert rerun.returncode == 0, rerun.stderr
    reused = int(re.search(r"(\d+) already stored, reused", rerun.stdout)[1])  # type: ignore[index]
    assert reused >= written and f"{total - reused} chunks embedded" in rerun.stdout
    with Pipeline.from_settings(Settings(store={"path": tmp_path / "clean"})) as clean:
        clean.ingest([big])
        expected = sorted(h.id for h in clean.store.iter_chunks())
    with Pipeline.from_settings(Settings(store={"path": tmp_path / ".rag" / "chroma"})) as pipe:
        assert sorted(h.id for h in pipe.store.iter_chunks()) == expected
        assert [i.chunks for i in pipe.sources()] == [total]


def test_a_changed_large_document_drops_its_stale_chunks(tmp_path: Path) -> None:
    big = _big(tmp_path / "docs", 60)
    settings = Settings(store={"path": tmp_path / "store"}, ingest={"batch_chunks": 8})
    with Pipeline.from_settings(settings) as pipe:
        pipe.ingest([big])
        big.write_text(big.read_text(encoding="utf-8").split("Section 30.")[0], encoding="utf-8")
        report = pipe.ingest([big])
        assert report.updated and report.reused == 0
        (info,) = pipe.sources()
        assert pipe.store.count() == info.chunks


# -- 11. what the README shows is what the command prints ------------------------------------------------


def test_readme_output_blocks_are_what_the_commands_print(tmp_path: Path) -> None:
    import readme_blocks

    text = readme_blocks.README.read_text(encoding="utf-8")
    assert readme_blocks.render(text, tmp_path / "store") == text, (
        "the README's example output drifted: run `python tests/readme_blocks.py --write`"
    )
    assert "eval/reports/bench-" not in text or all(
        (ROOT / m).exists() for m in re.findall(r"eval/reports/bench-[\w.-]+\.json", text)
    ), "the README cites a bench report that is not committed"


def test_every_answer_keeps_the_sentence_limit(pipeline) -> None:  # type: ignore[no-untyped-def]
    from rag.verify.cite import cited_sentences

    limit = pipeline.settings.answer.max_sentences
    questions = [
        json.loads(line)["question"]
        for name in ("questions.jsonl", "dev.jsonl")
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    over = []
    for q in questions:
        a = pipeline.ask(q)
        if not a.abstained and len(cited_sentences(a.text)) > limit:
            over.append((q, len(cited_sentences(a.text))))
    assert not over, over


def test_eval_check_prints_its_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    from eval.runner import main

    code = main(["--check", "--type", "factoid", "--no-report", "-q"])
    out = capsys.readouterr()
    verdict = [ln for ln in out.out.splitlines() if ln.startswith("gate: ")]
    assert len(verdict) == 1, out.out[-500:]
    assert code == (1 if "FAILED" in verdict[0] else 0)
    assert (code == 1) == ("below the gate" in out.err)
