"""A scripted llama-index ``CustomLLM`` for tests: it cites the wrong source on purpose."""

from __future__ import annotations

import re
from typing import Any

from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from rag.text import split_sentences

__all__ = ["MisattributingLLM"]

_SOURCE = re.compile(r'<source-(\w+) n="(\d+)" title="([^"]*)">\n(.*?)\n</source-\1>', re.S)


class MisattributingLLM(CustomLLM):
    """Answers with a sentence of the first source, cited as another document's number.

    ``quoted`` and ``cited`` record what it wrote, so a test can check what verification did.
    With no numbered sources in the prompt (a follow-up rewrite) it echoes the prompt's last line.
    """

    quoted: str = ""
    cited: int = 0
    quoted_from: int = 0

    @classmethod
    def class_name(cls) -> str:
        """Name used by llama-index serialisation."""
        return "MisattributingLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """A small context, like the local test model's."""
        return LLMMetadata(context_window=4096, num_output=256, model_name="misattributing")

    def _answer(self, prompt: str) -> str:
        sources = [(int(n), title, text) for _, n, title, text in _SOURCE.findall(prompt)]
        if not sources:
            return prompt.strip().splitlines()[-1]
        n, title, text = sources[0]
        other = next((m for m, t, _ in sources if t != title), None)
        if other is None:
            return prompt.strip().splitlines()[-1]
        spans = [(a, b) for a, b in split_sentences(text) if text[b - 1] == "." and len(text[a:b].split()) >= 10]
        if not spans:
            return prompt.strip().splitlines()[-1]
        a, b = spans[0]
        self.quoted, self.cited, self.quoted_from = text[a:b], other, n
        return f"{self.quoted} [{other}]"

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """The scripted answer at once."""
        return CompletionResponse(text=self._answer(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """The scripted answer, word by word."""
        text = self._answer(prompt)

        def gen() -> CompletionResponseGen:
            out = ""
            for word in re.findall(r"\S+\s*", text):
                out += word
                yield CompletionResponse(text=out, delta=word)

        return gen()
