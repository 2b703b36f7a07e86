"""The lexical layer: framing, tokens, printing (legacy-protocol.md section 4)."""

from hypothesis import given, settings, strategies as st

from syncsh.protocol.wire import (ATOM, LITERAL, LPAREN, RPAREN, SP, STRING, ContinuationRequest,
                                  FrameError, Framer, LogicalLine, astring, tokenize)


def frames(data: bytes, **kw):
    framer = Framer(**kw)
    framer.feed(data)
    return list(framer)


def test_plain_lines_crlf_and_bare_lf():
    assert frames(b"OK one\r\nOK two\nOK three") == [b"OK one", b"OK two"]


def test_literal_in_the_middle_of_a_line():
    [line] = frames(b'** 1 {3+}\r\na b "acl" 4\r\n')
    assert isinstance(line, LogicalLine)
    assert line.parts == [b"** 1 ", b"a b", b' "acl" 4']
    assert line.raw == b'** 1 {3+}\r\na b "acl" 4\r\n'


def test_upload_cache_and_message_literals_back_to_back():
    data = b"UPLOAD 1 2 PARSED NIL 1 2 3 4 () 5 6 7 {3+}\r\nabc{4+}\r\nbody\r\n"
    [line] = frames(data)
    assert line.literals == [b"abc", b"body"]
    kinds = [t.kind for t in tokenize(line)]
    assert kinds[-2:] == [LITERAL, LITERAL]


def test_synchronising_literal_asks_to_go_ahead_on_the_server_only():
    server = Framer(server_side=True)
    server.feed(b"UPLOAD_SIEVE x 1 {4}\r\n")
    assert server.next_item() == ContinuationRequest(4)
    server.feed(b"abcd\r\n")
    assert server.next_item().literals == [b"abcd"]
    assert frames(b"OK {2}\r\nhi\r\n")[0].literals == [b"hi"]


def test_huge_literal_is_refused_without_allocation():
    framer = Framer(server_side=True, max_literal=1 << 20)
    framer.feed(b"UPLOAD 1 2 SIMPLE NIL 1 2 3 4 () {9999999999+}\r\nxx")
    assert framer.next_item() == FrameError("Literal too large")
    assert framer.next_item() is None
    assert framer.pending < 100


def test_over_long_line_is_refused_and_the_stream_recovers():
    framer = Framer(max_line=100)
    framer.feed(b"x" * 500)
    assert framer.next_item() == FrameError("Line too long")
    framer.feed(b"y" * 500 + b"\r\nOK fine\r\n")
    assert framer.next_item() == b"OK fine"


def test_tokens_count_spaces_and_unquote():
    tokens = tokenize(b'SETFLAGS 4140 (\\answered hello) "a\\"b"')
    assert [t.kind for t in tokens] == [ATOM, SP, ATOM, SP, LPAREN, ATOM, SP, ATOM, RPAREN, SP,
                                        STRING]
    assert tokens[-1].value == b'a"b'


def test_printing_follows_the_original_rules():
    assert astring("user.dpc22") == b"user.dpc22"
    assert astring("dpc22\tlrswipcda\tanonymous\t0\t") == b'"dpc22\tlrswipcda\tanonymous\t0\t"'
    assert astring("user.dpc22.*") == b'"user.dpc22.*"'
    assert astring("") == b'""'
    assert astring("a%b") == b"{3+}\r\na%b"
    assert astring("Entw\u00fcrfe").startswith(b"{9+}\r\n")


values = st.binary(max_size=300).filter(lambda b: b"\x00" not in b)


@settings(max_examples=300)
@given(values)
def test_astring_round_trip(value):
    framer = Framer()
    framer.feed(b"* " + astring(value) + b"\r\n")
    [line] = list(framer)
    tokens = tokenize(line)
    assert tokens[2].value == value


@settings(max_examples=200)
@given(st.lists(values, min_size=1, max_size=5), st.integers(1, 17))
def test_framing_does_not_depend_on_how_bytes_arrive(items, chunk):
    data = b"".join(b"* " + astring(v) + b" " + astring(v) + b"\r\n" for v in items)
    whole = frames(data)
    framer = Framer()
    pieces = []
    for i in range(0, len(data), chunk):
        framer.feed(data[i:i + chunk])
        pieces += list(framer)
    assert [getattr(x, "raw", x) for x in pieces] == [getattr(x, "raw", x) for x in whole]
    assert len(whole) == len(items)
