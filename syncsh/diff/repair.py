"""What really repairs each finding: Cyrus 3.6 ``sync_client``'s own rules, as observed.

Every rule here was checked on a real Cyrus 3.6.1 pair by making the divergence by hand,
running the command and diffing again (tests/test_repair.py replays each one).  What 3.6.1
does, and where the Cassandane ``Replication`` tests assert otherwise for later versions:

- A user sync (``sync_client -u USER``) repairs the user's folders, messages, ACLs,
  annotations, quota, subscriptions and the seen state and sieve scripts the master holds.
  ``-m MAILBOX`` cannot create, rename or restore a folder (it fails with "mailbox uniqueid
  already in use"), so every step here is a user sync.
- An expunge on either end wins, whatever the modseqs: the other end's copy is expunged
  too (later versions keep this rule; split brain with expunges renumbers the survivors).
- A flag or message-annotation conflict goes by MODSEQ: the higher one wins; at equal
  modseqs the master's record wins.  A mailbox annotation changed on the replica is
  copied back the same way (its HIGHESTMODSEQ is higher).
- An append on the replica is copied back; two appends with the same UID (split brain)
  are both renumbered to new UIDs on both ends: nothing is lost.
- ACL, quota and subscriptions go master → replica: a change made on the replica is undone,
  even a newer one.  A quota record's MODSEQ drifts between the ends on its own (later
  versions resync on it: Cassandane quota_modseq); diff compares the limits only.
- A folder deleted on the replica (DELETED.… after a delayed delete) is renamed back; a
  folder renamed on the master is renamed on the replica; a folder deleted on the master
  is moved to DELETED.… on the replica too (its messages leave the live folders).
- Folders, sieve scripts and other users' seen state that exist on the replica only are
  left alone by every mode (later versions also leave them).  A folder deleted and
  re-created on the replica (the original kept as DELETED.…) makes the user sync fail
  ("bailing out"), with or without -O.  A folder created on both ends makes it fail on a
  fresh 3.6.1 pair; on one that had served other repairs the same run exited 0 and replaced
  the replica's folder, losing its messages.  (Cassandane's splitbrain_different_uniqueid
  tests, 3.5 and later, repair the latter with -O: not so on 3.6.1 when DELETED.… holds the
  original.)  These need the manual procedures below.  A folder re-created on the master
  is repaired by a user sync: the master's delete is replicated first.
- A sieve script added on the replica alone lives in a hidden user.U.#sieve folder with a
  uniqueid of its own: the next user sync bails out once the master has scripts too.
- ``sync_client -O`` (no copy-back) fails with "Replication inconsistency detected" on any
  replica-side change and drops nothing; the next normal sync can crash the replica's
  sync_server once.  It is never a repair.
- A message file whose bytes no longer match its GUID: ``reconstruct -G`` finds it;
  ``reconstruct -G -R`` re-appends the damaged bytes under a new UID and a later sync
  expunges the good copy on both ends, so the repair is to copy the good file back.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from syncsh.diff import compare as C

M2R, R2M, BOTH, NONE = "master → replica", "replica → master", "both ways", "none"


@dataclass
class Step:
    summary: str                        # what happens, in a sentence
    argv: list[str] | None = None       # the command that repairs, when one does
    flow: str = M2R
    loses: list[dict] = field(default_factory=list)     # {"mailbox", "uid", "guid"}
    folders_lost: list[str] = field(default_factory=list)
    procedure: list[str] = field(default_factory=list)  # when no command repairs

    @property
    def command(self) -> str | None:
        return shlex.join(self.argv) if self.argv else None

    @property
    def loses_mail(self) -> bool:
        return bool(self.loses or self.folders_lost)

    def key(self) -> tuple:
        """Steps that are the same action (printed once, with a count)."""
        return (self.command, tuple(self.procedure)) if (self.command or self.procedure) \
            else (self.summary,)

    def loss_text(self) -> str:
        if not self.loses_mail:
            return "loses no mail"
        parts = [f"{m['mailbox']} UID {m['uid']} ({m['guid']})" for m in self.loses]
        parts += [f"folder {name}" for name in self.folders_lost]
        return "LOSES MAIL: " + ", ".join(parts)

    @property
    def copyback(self) -> bool:
        """A sync_client run that carries replica-side changes back (what -O refuses)."""
        return bool(self.argv) and self.argv[0] == "sync_client" and self.flow in (R2M, BOTH)

    def text(self) -> str:
        head = self.command or "manual procedure"
        return f"{head} [{self.flow}]: {self.summary}; {self.loss_text()}"

    def as_json(self) -> dict:
        return {"command": self.command, "argv": self.argv, "flow": self.flow,
                "copyback": self.copyback,
                "summary": self.summary, "loses_mail": self.loses_mail,
                "loses": {"messages": self.loses, "folders": self.folders_lost},
                "procedure": self.procedure}


def user_sync(user: str) -> list[str]:
    return ["sync_client", "-u", user]


def _lost(mailbox: str, messages) -> list[dict]:
    return [{"mailbox": mailbox, "uid": uid, "guid": guid} for uid, guid in messages or ()]


def _winner(modseqs, master_wins_ties: bool = True) -> str:
    m, r = modseqs if modseqs else (None, None)
    if m is not None and r is not None and r > m:
        return "replica"
    return "master" if master_wins_ties else "replica"


def modern_step(f, replica_text: str = "REPLICA") -> Step:
    """The step that repairs one finding on Cyrus 3.6 (see the module's rules)."""
    if f.facts.get("kept_record"):
        return Step("expunged records are outside SYNC_CRC and no sync aligns them: nothing "
                    "to repair (cyr_expire -X removes them)", flow=NONE)
    if f.consequence:
        return Step("repaired with the differences it follows from", flow=NONE)
    rule = _MODERN_RULES.get(f.kind)
    if rule is None:
        return Step("brings the replica in line with the master", user_sync(f.user), M2R)
    return rule(f, replica_text)


def _missing_on_replica(f, replica_text: str) -> Step:
    if f.facts.get("expunged_on") == "replica":
        return Step("the replica's expunge wins: the master's copy is expunged too",
                    user_sync(f.user), R2M, _lost(f.mailbox, [(f.uid, f.facts.get("guid"))]))
    return Step("copies the message to the replica", user_sync(f.user), M2R)


def _missing_on_master(f, replica_text: str) -> Step:
    if f.facts.get("expunged_on") == "master":
        return Step("the master's expunge wins: the replica's copy is expunged too",
                    user_sync(f.user), M2R, _lost(f.mailbox, [(f.uid, f.facts.get("guid"))]))
    return Step("copies the replica's message back to the master (same UID)", user_sync(f.user),
                R2M)


def _record_conflict(f, replica_text: str) -> Step:
    side = _winner(f.facts.get("modseqs"))
    other = "replica" if side == "master" else "master"
    what = {C.FLAGS: "flags", C.MODSEQ: "record", C.MESSAGE_ANNOTATION: "annotation"}[f.kind]
    return Step(f"the {side}'s {what} wins over the {other}'s (higher MODSEQ; the "
                "master's at equal MODSEQ)", user_sync(f.user), M2R if side == "master" else R2M)


def _mailbox_annotations(f, replica_text: str) -> Step:
    side = _winner(f.facts.get("highestmodseq"))
    other = "replica" if side == "master" else "master"
    return Step(f"the {side}'s mailbox annotations win over the {other}'s (higher "
                "HIGHESTMODSEQ)", user_sync(f.user), M2R if side == "master" else R2M)


def _master_replaces(f, replica_text: str) -> Step:
    what = {C.ACL: "ACL replaces", C.QUOTA: "quota replaces",
            C.SUBSCRIPTION: "subscriptions replace"}[f.kind]
    return Step(f"the master's {what} the replica's (a replica-side change is "
                "undone)", user_sync(f.user), M2R)


def _deleted_folder(f, replica_text: str) -> Step:
    if f.facts.get("deleted_on") == "replica":
        return Step(f"renames {f.replica} back to {f.master} on the replica", user_sync(f.user),
                    M2R)
    return Step(f"deletes {f.replica} on the replica too (moved to {f.master})",
                user_sync(f.user), M2R, _lost(f.replica, f.facts.get("replica_messages")),
                [f.replica])


def _crc(f, replica_text: str) -> Step:
    side = f.facts.get("self_check")
    if not side:
        return Step("recomputes the mailbox from the master's records", user_sync(f.user), M2R)
    # an end whose SYNC_CRC disagrees with its own records: no sync can fix its index
    return Step(f"the {side}'s index does not agree with its own records (or the reply was "
                "changed on its way)", flow=NONE, procedure=[
                    f"on the {side}: reconstruct -n {f.mailbox} (reports, changes nothing)",
                    f"on the {side}: reconstruct {f.mailbox} recomputes the index",
                    "diff again"])


def _replica_only_folder(f, replica_text: str) -> Step:
    messages = f.facts.get("messages") or []
    if C.is_delayed_delete(f.mailbox):
        return Step("a delayed-delete folder only the replica holds: no sync touches it; "
                    "it expires with cyr_expire -D on the replica", flow=NONE,
                    procedure=[f"on the replica: cyr_expire -D 0 removes {f.mailbox} "
                               "(its messages are already deleted)"])
    unmailbox = shlex.join(["syncsh", replica_text, "--allow-writes", "-c",
                            f"APPLY UNMAILBOX {f.mailbox}"])
    return Step("sync_client leaves folders that exist on the replica only alone", flow=R2M,
                procedure=[
                    f"as {f.user}, create {f.mailbox} on the master and copy its "
                    f"{len(messages)} live message(s) there from the replica over IMAP "
                    "(FETCH BODY.PEEK[] and APPEND keep each GUID)",
                    f"remove the replica's folder: {unmailbox}",
                    f"sync_client -u {shlex.quote(f.user)} (creates the master's folder on "
                    "the replica)"])


def _recreated_folder(f, replica_text: str) -> Step:
    """One name, two uniqueids.  3.6.1 does three different things, by where the original
    (the uniqueid the other end has) is kept."""
    messages = f.facts.get("replica_messages") or []
    kept = {guid for _, guid in f.facts.get("master_messages") or ()}
    replica_only = [(uid, guid) for uid, guid in messages if guid not in kept]
    sync = user_sync(f.user)
    if f.facts.get("master_original"):
        # the master's delete is replicated first: the replica's folder goes to DELETED.*
        return Step(f"the replica's {f.mailbox} is deleted as it was on the master (kept as "
                    f"{f.facts['master_original']} until expired), then the master's new one "
                    "is created", sync, M2R, _lost(f.mailbox, replica_only))
    copy = (f"as {f.user}, copy the {len(messages)} live message(s) of the replica's "
            f"{f.mailbox} to the master's {f.mailbox} over IMAP (FETCH BODY.PEEK[] and APPEND "
            "keep each GUID)")
    unmailbox = shlex.join(["syncsh", replica_text, "--allow-writes", "-c",
                            f"APPLY UNMAILBOX {f.mailbox}"])
    # Created on both ends (no original kept): a fresh 3.6.1 pair bails out like above, but
    # one whose sync_server had seen other repairs replaced the replica's folder (exit 0,
    # its messages gone).  The same procedure is right either way.
    return Step("no sync_client mode repairs a re-created folder (a user sync bails out, "
                "-O too, or replaces the replica's folder and loses its messages)", flow=R2M,
                procedure=[
                    copy, f"remove the replica's re-created folder: {unmailbox}",
                    f"sync_client -u {shlex.quote(f.user)} (brings the master's folder, with "
                    "the copied messages, to the replica)"])


def _sieve(f, replica_text: str) -> Step:
    name = f.facts.get("name", "")
    if f.master is None:
        fetch = shlex.join(["syncsh", replica_text, "--format", "raw", "-c",
                            f"GET FETCH_SIEVE %(USERID {f.user} FILENAME {name})"])
        unmailbox = shlex.join(["syncsh", replica_text, "--allow-writes", "-c",
                                f"APPLY UNMAILBOX user.{f.user}.#sieve"])
        # 3.6 keeps scripts in a hidden user.U.#sieve mailbox: the replica's own one has a
        # uniqueid of its own, and a user sync then bails out until it is removed
        return Step("sync_client leaves sieve scripts that exist on the replica only alone",
                    flow=R2M, procedure=[
                        f"save the script: {fetch}",
                        f"remove the replica's sieve folder (the saved script goes to the master "
                        f"next): {unmailbox}",
                        f"upload it to the master as {f.user} (sieveshell, or APPLY SIEVE "
                        "on the master)",
                        f"sync_client -u {shlex.quote(f.user)}"])
    return Step("the master's sieve scripts replace the replica's", user_sync(f.user), M2R)


def _seen(f) -> Step:
    from syncsh.model import user_of_mailbox
    reader = f.facts.get("reader", f.user)
    owner = user_of_mailbox(f.mailbox) or reader
    users = [reader] + ([owner] if owner != reader else [])
    if f.master is None or f.master == "":
        # the STORE on the master changes the owner's folder too (its record MODSEQ)
        return Step(f"sync_client pushes {reader}'s seen state only where the master holds "
                    "one", flow=R2M, procedure=[
                        f"as {reader} on the master, mark UIDs {f.replica} of {f.mailbox} "
                        "\\Seen over IMAP (STORE +FLAGS (\\Seen))",
                        shlex.join(["sync_client", "-u", *users])])
    return Step(f"the master's seen state of {reader} replaces the replica's",
                user_sync(reader), M2R)


def _damaged_file(f) -> Step:
    side = "replica" if "replica" in f.detail else "master"
    other = "master" if side == "replica" else "replica"
    return Step("no sync repairs a damaged message file (reconstruct -G -R and a sync would "
                "expunge the good copy on both ends)", flow=M2R if side == "replica" else R2M,
                procedure=[
                    f"on the {other}, find the good file: mbpath {f.mailbox} gives the folder, "
                    f"the file is {f.uid}.",
                    f"copy it over the {side}'s file (mbpath {f.mailbox} on the {side}), "
                    "keeping owner and mode",
                    f"reconstruct -G {f.mailbox} on the {side} reports no GUID mismatch"])


# The rule for each kind of finding (a kind not listed: a user sync brings the replica in
# line).  A table, so that a kind diff learns to find gets its repair in one place.
_MODERN_RULES = {
    C.LOCK: lambda f, _: Step("retry when no replication run holds the user", flow=NONE),
    C.MISSING_ON_REPLICA: _missing_on_replica,
    C.MISSING_ON_MASTER: _missing_on_master,
    C.SPLIT_BRAIN: lambda f, _: Step("both messages get new UIDs on both ends",
                                     user_sync(f.user), BOTH),
    C.FLAGS: _record_conflict, C.MODSEQ: _record_conflict,
    C.MESSAGE_ANNOTATION: _record_conflict,
    C.ANNOTATIONS: _mailbox_annotations,
    C.ACL: _master_replaces, C.QUOTA: _master_replaces, C.SUBSCRIPTION: _master_replaces,
    C.ONLY_MASTER: lambda f, _: Step("creates the folder on the replica", user_sync(f.user),
                                     M2R),
    C.RENAMED: lambda f, _: Step(f"renames {f.replica} to {f.master} on the replica",
                                 user_sync(f.user), M2R),
    C.DELETED: _deleted_folder,
    C.ONLY_REPLICA: _replica_only_folder,
    C.RECREATED: _recreated_folder,
    C.SIEVE: _sieve,
    C.SEEN: lambda f, _: _seen(f),
    C.BODY: lambda f, _: _damaged_file(f), C.SIZE: lambda f, _: _damaged_file(f),
    C.CRC: _crc,
}


def legacy_step(f, store: str, replica_text: str) -> Step:
    """The documented dialect: syncsh replicate of the whole user, from the master's store
    (it repairs every kind of finding at once, so one line serves them all)."""
    if f.consequence:
        return Step("repaired with the differences it follows from", flow=NONE)
    if f.kind == C.LOCK:
        return Step("retry when no replication run holds the user (or raise --timeout)",
                    flow=NONE)
    run = ["syncsh", "replicate", "--master", store, "-s", replica_text, "-u", f.user]
    if f.kind == C.MISSING_ON_MASTER:
        return Step("expunges it from the replica (copy it to the master first to keep it)",
                    run, M2R, _lost(f.mailbox, [(f.uid, f.replica)]))
    if f.kind == C.SPLIT_BRAIN:
        return Step("replaces the replica's message with the master's", run, M2R,
                    _lost(f.mailbox, [(f.uid, f.replica)]))
    if f.kind == C.ONLY_REPLICA:
        return Step("deletes the folder from the replica (copy its messages to the master "
                    "first to keep them)", run, M2R, _lost(f.mailbox, f.facts.get("messages")),
                    [f.mailbox])
    if f.kind == C.RECREATED:
        return Step("replaces the replica's folder with the master's", run, M2R,
                    _lost(f.mailbox, f.facts.get("replica_messages")))
    return Step("the master's state replaces the replica's", run, M2R)
