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


def ranked(word: str, candidates, key=lambda c: c):
    """Those that match `word`: exact-prefix matches first, then fuzzy ones, each group in
    the order given (the table's, for commands), as pgcli ranks them."""
    low = word.lower()
    prefix = [c for c in candidates if key(c).lower().startswith(low)]
    return prefix + [c for c in candidates
                     if not key(c).lower().startswith(low) and _fuzzy(word, key(c))]


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
    def __init__(self, table, learnt, state, meta_commands=None) -> None:
        self._table = table           # a table, or a callable giving the current one
        self._learnt = learnt         # the same: what the session has learnt so far
        self.state = state            # the Session: current user, selected mailbox
        if meta_commands is None:     # the console's own table (repl/meta.py)
            from syncsh.repl.meta import META_COMMANDS as meta_commands
        self.meta_commands = tuple(meta_commands)

    @property
    def table(self):
        return self._table() if callable(self._table) else self._table

    @property
    def learnt(self):
        return self._learnt() if callable(self._learnt) else self._learnt

    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        words = split_words(text)
        word = words[-1]
        table = self.table
        if len(words) == 1:
            yield from self._commands(word)
            return
        if words[0].startswith("\\"):
            if len(words) == 2:
                yield from self._meta_argument(words[0], word)
            return
        if len(words) == 2 and any(n.startswith(words[0].upper() + " ") for n in table):
            yield from self._subtypes(words[0], word)
            return
        spec = C.lookup(table, text)
        if spec is None:
            return
        index = len(words) - 1 - len(spec.name.split())
        arg = arg_for(spec, index)
        if arg is None:
            return
        if arg.kind == C.KVLIST:
            for key in self._kv_keys(spec, word):
                yield Completion(key, start_position=-len(word.rsplit(" ", 1)[-1].lstrip("%(")),
                                 display_meta="key")
            return
        for value, meta in self._values(arg.kind, word):
            yield Completion(value, start_position=-len(self._tail(word, arg.kind)),
                             display_meta=meta)

    def _commands(self, word: str):
        if word.startswith("\\"):
            for meta in ranked(word, list(self.meta_commands), key=lambda m: m.name):
                yield Completion(meta.name, start_position=-len(word), display_meta=meta.summary)
            return
        upper = word.isupper() or not word
        firsts: dict[str, str] = {}          # first word -> summary, in table order
        for name, spec in self.table.items():
            first = name.split(" ", 1)[0]
            firsts.setdefault(first, spec.summary if first == name else "…")
        for first in ranked(word, list(firsts)):
            shown = first if upper else first.lower()
            yield Completion(shown, start_position=-len(word), display_meta=firsts[first])

    def _meta_argument(self, name: str, word: str):
        """A meta-command's argument: its choices (from the meta table); for a help topic,
        the commands, the meta-commands and 'target'."""
        meta = next((m for m in self.meta_commands if m.matches(name)), None)
        if meta is None:
            return
        if meta.topics:
            upper = word.isupper()
            firsts = dict.fromkeys(n.split(" ", 1)[0] for n in self.table)
            candidates = [(n if upper else n.lower(), self.table[n].summary
                           if n in self.table else "…") for n in firsts]
            candidates += [(m.name, m.summary) for m in self.meta_commands]
            candidates.append(("target", "the target forms and this session"))
        else:
            candidates = [(choice, meta.summary) for choice in meta.choices]
        for value, summary in ranked(word, candidates, key=lambda c: c[0]):
            yield Completion(value, start_position=-len(word), display_meta=summary)

    def _subtypes(self, first: str, word: str):
        """GET/APPLY/RESTORE: the sub-commands, prefix matches first."""
        upper = first.isupper()
        names = [(n.split(" ", 1)[1], s) for n, s in self.table.items()
                 if n.startswith(first.upper() + " ")]
        for sub, spec in ranked(word, names, key=lambda x: x[0]):
            yield Completion(sub if upper else sub.lower(), start_position=-len(word),
                             display_meta=spec.summary)

    @staticmethod
    def _kv_keys(spec, word: str) -> list[str]:
        """Keys of the subtype's kvlist not yet given, when the cursor is at a key."""
        if not word.startswith("%("):
            return list(spec.keys) if word == "" else []
        inner = word[2:]
        if "(" in inner or '"' in inner:
            return []               # inside a nested value: no key here
        tokens = inner.split(" ")
        if len(tokens) % 2 == 0:
            return []               # the cursor is on a value
        used = set(tokens[:-1:2])
        partial = tokens[-1].upper()
        return [k for k in spec.keys if k.startswith(partial) and k not in used]

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
        return ranked(tail, candidates, key=lambda c: c[0]) if kind != C.UID else candidates
