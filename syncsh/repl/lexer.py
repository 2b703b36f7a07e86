"""Highlighting of what is typed: the command table says which words are commands, writes
and unknowns; the same classes colour replies."""

from __future__ import annotations

from syncsh.protocol import commands as C


def make_lexer(table):
    from prompt_toolkit.lexers import Lexer

    class ProtocolLexer(Lexer):
        def lex_document(self, document):
            current = table() if callable(table) else table

            def line(i):
                return lex_line(current, document.lines[i])
            return line

    return ProtocolLexer()


def lex_line(table, text: str):
    """(style, text) fragments of one input line; the same classes colour replies."""
    out = []
    word, sep, rest = text.partition(" ")
    if word.startswith("\\"):
        out.append(("class:meta", word))
    else:
        spec = C.lookup(table, text)
        style = "class:unknown" if spec is None and word else \
            "class:write" if spec is not None and spec.write else "class:command"
        out.append((style, word))
    out.append(("", sep))
    token = ""
    for ch in rest:
        if ch in " ()":
            if token:
                out.append((_arg_style(token), token))
                token = ""
            out.append(("class:paren" if ch != " " else "", ch))
        else:
            token += ch
    if token:
        out.append((_arg_style(token), token))
    return out


def _arg_style(token: str) -> str:
    if token.isdigit():
        return "class:number"
    if token.startswith("\\"):
        return "class:sysflag"
    if token.startswith('"'):
        return "class:string"
    return "class:arg"


STYLE = {
    "command": "bold ansicyan", "write": "bold ansiyellow", "unknown": "ansired",
    "meta": "bold ansimagenta", "number": "ansigreen", "sysflag": "ansimagenta",
    "string": "ansiyellow", "paren": "ansibrightblack", "arg": "",
    "bottom-toolbar": "bg:#222222 #cccccc", "toolbar.key": "bold", "toolbar.warn": "bg:#882222 #ffffff",
}
