"""Completion that knows the cursor's context: the command table says what kind of thing
goes in each argument, the session says which such things exist (pgcli's split)."""

from __future__ import annotations

from prompt_toolkit.completion import Completer, Completion

from syncsh.protocol import commands as C

SYSTEM_FLAGS = ("\\answered", "\\flagged", "\\deleted", "\\draft")


def _fuzzy(word: str, candidate: str) -> bool:
    """Prefix match first; otherwise the letters of word appear in order."""
    word, candidate = word.lower(), candidate.lower()
    if candidate.startswith(word):
        return True
    it = iter(candidate)
    return all(ch in it for ch in word)


def split_words(text: str) -> list[str]:
    """Top-level words so far; a flag list counts as one word while it is open."""
    words: list[str] = []
    current = ""
    depth = 0
    quoted = False
    for ch in text:
        if quoted:
            current += ch
            quoted = ch != '"'
            continue
        if ch == " " and depth == 0:
            words.append(current)
            current = ""
            continue
        current += ch
        if ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
    words.append(current)
    return words


def arg_for(spec: C.CommandSpec, index: int) -> C.Arg | None:
    """The argument at position ``index`` (0 = first after the command word)."""
    if not spec.args:
        return None
    if index < len(spec.args):
        return spec.args[index]
    last = spec.args[-1]
    if last.repeat:
        # "uid flags" pairs repeat as a pair
        if spec.name == "SETFLAGS":
            return spec.args[(index % 2)]
        return last
    return None


class SyncCompleter(Completer):
    def __init__(self, table, learnt, state, meta_commands=()) -> None:
        self._table = table           # a table, or a callable giving the current one
        self.learnt = learnt
        self.state = state            # the Session: current user, selected mailbox
        self.meta_commands = meta_commands

    @property
    def table(self):
        return self._table() if callable(self._table) else self._table

    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        words = split_words(text)
        word = words[-1]
        if len(words) == 1:
            yield from self._commands(word)
            return
        spec = C.lookup(self.table, words[0])
        if spec is None:
            return
        arg = arg_for(spec, len(words) - 2)
        if arg is None:
            return
        for value, meta in self._values(arg.kind, word):
            yield Completion(value, start_position=-len(self._tail(word, arg.kind)),
                             display_meta=meta)

    def _commands(self, word: str):
        if word.startswith("\\"):
            for name, summary in self.meta_commands:
                if name.startswith(word):
                    yield Completion(name, start_position=-len(word), display_meta=summary)
            return
        upper = word.isupper() or not word
        for name, spec in self.table.items():
            if _fuzzy(word, name):
                shown = name if upper else name.lower()
                yield Completion(shown, start_position=-len(word), display_meta=spec.summary)

    @staticmethod
    def _tail(word: str, kind: str) -> str:
        """The part of the word being completed (inside a flag list, the last flag)."""
        if kind == C.FLAGS:
            return word.lstrip("(").split(" ")[-1]
        return word

    def _values(self, kind: str, word: str):
        learnt = self.learnt
        tail = self._tail(word, kind)
        if kind == C.USER:
            candidates = [(u, "user") for u in sorted(learnt.users)]
            if self.state.user and self.state.user not in learnt.users:
                candidates.insert(0, (self.state.user, "current user"))
        elif kind == C.MAILBOX:
            candidates = [(m, "mailbox") for m in sorted(learnt.mailboxes)]
        elif kind == C.UID:
            candidates = [(u, "uid") for u in learnt.uid_prefix(self.state.selected, tail)]
        elif kind == C.GUID:
            candidates = [(g, "guid") for g in sorted(learnt.guids) if g.startswith(tail)][:500]
        elif kind == C.FLAGS:
            names = list(SYSTEM_FLAGS) + sorted(learnt.flags - set(SYSTEM_FLAGS))
            if not word.startswith("("):
                candidates = [("(" + f, "flag") for f in names]
                tail = word
            else:
                candidates = [(f, "flag") for f in names]
            return [(v, m) for v, m in candidates if v.lower().startswith(tail.lower())]
        else:
            return []
        return [(v, m) for v, m in candidates if _fuzzy(tail, v)] if kind != C.UID else candidates
