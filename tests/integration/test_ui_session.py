"""The chat's answering loop (rag.ui.app.Session and _answer_turn) over the real seeded pipeline:
questions answered in the order sent, one loop per session, readable errors, Stop."""

from __future__ import annotations

from typing import Any

HEADLINE = "Why does ISKP oppose the Taliban?"
FOLLOW_UP = "And what did the Taliban do about them?"


def _run(pipeline: Any, session: Any) -> list[int]:
    """Answer every queued turn the way the page's loop does; returns how many redraws each took."""
    from rag.ui.session import answer_turn

    assert session.claim()
    redraws = []
    while (nxt := session.next_turn()) is not None:
        index, turn = nxt
        redraws.append(sum(1 for _ in answer_turn(pipeline, session, index, turn, turn.raw or turn.question, None)))
    assert not session.running
    return redraws


def test_queued_questions_are_answered_in_order_with_the_conversation(pipeline: Any) -> None:
    from rag.ui.session import Session

    session = Session()
    for q in (HEADLINE, FOLLOW_UP, "Who won the 2022 FIFA World Cup?"):
        turn = session.enqueue(q, 5, "extractive", 2000)
        assert turn is not None and turn.status == "queued"
    assert session.enqueue("   ", 5, "extractive", 2000) is None  # a blank question is not a turn
    assert session.claim() and not session.claim()  # one answering loop per session
    session.release()
    redraws = _run(pipeline, session)
    turns = session.chat.turns
    assert [t.status for t in turns] == ["done", "done", "done"]
    assert turns[0].answer.text == pipeline.ask(HEADLINE).text
    assert turns[1].answer.standalone_question  # the follow-up was read with the first question
    assert turns[2].answer.abstained
    assert all(r >= 2 for r in redraws)  # the start, then each sentence and the end
    assert session.chat.history() == [HEADLINE, FOLLOW_UP, "Who won the 2022 FIFA World Cup?"]


def test_errors_are_one_readable_line_and_not_context(pipeline: Any) -> None:
    from rag.ui.session import Session

    session = Session()
    session.enqueue(HEADLINE, 5, "no-such-mode", 2000)
    _run(pipeline, session)
    (turn,) = session.chat.turns
    assert turn.error is not None and "unknown answer mode 'no-such-mode'" in turn.error
    assert "Traceback" not in turn.error and session.chat.history() == []


def test_stop_ends_the_running_turn_and_the_next_one_runs(pipeline: Any) -> None:
    from rag.ui.session import Session, answer_turn

    session = Session()
    session.enqueue(HEADLINE, 5, "extractive", 2000)
    session.enqueue("Roughly how many troops does the Taliban have?", 5, "extractive", 2000)
    assert session.claim()
    index, turn = session.next_turn()  # type: ignore[misc]
    steps = answer_turn(pipeline, session, index, turn, turn.question, None)
    next(steps)  # started
    session.stop.set()
    list(steps)
    assert turn.status == "stopped" and turn.answer is None
    index, second = session.next_turn()  # type: ignore[misc]
    assert index == 1 and not session.stop.is_set()  # a new turn starts without the old Stop
    list(answer_turn(pipeline, session, index, second, second.question, None))
    assert second.status == "done" and second.answer is not None
    assert session.next_turn() is None and not session.running


def test_clear_drops_the_conversation_and_stops(pipeline: Any) -> None:
    from rag.ui.session import Session

    session = Session()
    session.enqueue(HEADLINE, 5, "extractive", 2000)
    session.clear()
    assert session.chat.turns == [] and session.stop.is_set()
    assert session.__deepcopy__({}).chat.turns == []  # what gr.State does for a new browser session
