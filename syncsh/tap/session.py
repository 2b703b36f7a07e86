"""A tap run put together from its options: the upstream, the sinks of each connection
(live view, record), then the listener or the child on stdio."""

from __future__ import annotations

from syncsh.errors import UsageError


def _record_host(args, target_text: str | None) -> tuple[str, str | None]:
    if not args.host:
        return "replica", target_text
    name, sep, target = args.host.partition("=")
    if not name or any(c.isspace() for c in name) or (sep and not target):
        raise UsageError(f"--host {args.host!r}: expected NAME or NAME=TARGET")
    return name, (target if sep else None)


def _replay_target(args, upstream) -> str | None:
    """The %host a record names: a csync:// target replays only with its administrator."""
    if args.exec:
        return f"exec:{args.exec}"
    if upstream.kind == "unix" or upstream.user:
        return upstream.text
    return None


def start(args, env) -> int:
    def warn(text: str) -> None:
        env.warn(f"syncsh tap: warning: {text}")

    from syncsh.tap import pump, record
    if args.listen and not args.to:
        raise UsageError("--listen needs --to csync://HOST[:PORT] or unix:/PATH")
    if args.exec and args.to:
        raise UsageError("--to goes with --listen; --exec runs its own server")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.tls_cert and args.exec:
        raise UsageError("--tls-cert is for --listen (stdio has no TLS)")
    if args.tls_cert and args.no_starttls:
        raise UsageError("--no-starttls or --tls-cert/--tls-key, not both")
    if args.insecure and not args.tls_cert:
        raise UsageError("--insecure goes with --tls-cert/--tls-key")
    if args.connections is not None and args.connections < 1:
        raise UsageError("--connections must be 1 or more")
    if args.max_literal is not None and args.max_literal < 0:
        raise UsageError("--max-literal must be 0 or more")
    upstream = pump.Upstream(args.to, args.timeout) if args.to else None
    host, host_target = _record_host(args, None)
    if not args.host or "=" not in args.host:
        host_target = _replay_target(args, upstream)
    recorder = None
    if args.record:
        try:
            recorder = record.Recorder(
                args.record, fmt=args.format, host=host, host_target=host_target,
                max_literal=record.MAX_LITERAL if args.max_literal is None else args.max_literal,
                append=args.append)
        except OSError as exc:
            raise UsageError(f"--record {args.record}: {exc.strerror or exc}") from None
    view = None if args.quiet else _view(args, env)

    def make_sinks(conn: int) -> list:
        sinks = [view] if view is not None else []
        if recorder is not None:
            sinks.append(recorder.session(conn))
        return sinks

    options = {"strip_starttls": args.no_starttls}
    _stop_on_sigterm()
    if args.exec:
        return pump.run_exec(args.exec, make_sinks, relay_options=options)
    tls = None
    if args.tls_cert:
        tls = pump.Tls(args.tls_cert, args.tls_key, upstream.host if upstream.kind == "tcp"
                       else None, args.insecure, warn)
    listener = pump.listen(args.listen)
    address = listener.getsockname()
    env.warn(f"syncsh tap: listening on {address[0]}:{address[1]}, forwarding to "
             f"{upstream.text}")
    return pump.serve(listener, upstream, make_sinks, relay_options=options, tls=tls,
                      connections=args.connections,
                      say=lambda text: env.warn(f"syncsh tap: {text}"))


def _stop_on_sigterm() -> None:
    """SIGTERM ends the tap as Ctrl-C does: the records are written."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)


def _view(args, env):
    from syncsh.render import color_wanted
    from syncsh.tap import show
    if args.log:
        try:
            out = open(args.log, "a", encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"--log {args.log}: {exc.strerror or exc}") from None
    else:
        out = env.stderr if args.exec else env.stdout
    if args.format == "json" and not args.record:
        return show.JsonView(out)
    color = False if args.no_color or env.color is False else color_wanted(out)
    return show.LiveView(out, color=color)
