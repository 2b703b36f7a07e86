"""`syncsh tap`: a transparent relay between a real sync_client and a real sync_server that
decodes both directions as they pass, shows them live and records them as transcripts.

relay.py is the sans-IO core (bytes in, events out, the bytes never changed), frames.py
cuts the client's stream into commands, show.py and record.py consume the events, pump.py
moves the bytes (sockets, threads, a child on stdio) and cli.py is the thin front end."""
