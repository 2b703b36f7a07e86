"""Key bindings: Tab completes at once, whatever the background completer is doing."""

from __future__ import annotations

import os

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.key_binding import KeyBindings


def common_prefix(words: list[str]) -> str:
    return os.path.commonprefix(words) if words else ""


def make_key_bindings(completer) -> KeyBindings:
    kb = KeyBindings()

    @kb.add("tab")
    def _(event):
        buffer = event.current_buffer
        if buffer.complete_state:
            buffer.complete_next()
            return
        document = buffer.document
        completions = list(completer.get_completions(document, CompleteEvent(completion_requested=True)))
        if not completions:
            return
        if len(completions) == 1:
            buffer.apply_completion(completions[0])
            return
        starts = {c.start_position for c in completions}
        if len(starts) == 1:
            start = starts.pop()
            typed = document.text_before_cursor[len(document.text_before_cursor) + start:]
            prefix = common_prefix([c.text for c in completions])
            if len(prefix) > len(typed) and prefix.lower().startswith(typed.lower()):
                buffer.delete_before_cursor(-start)
                buffer.insert_text(prefix)
                return
        buffer.start_completion(select_first=False)

    return kb
