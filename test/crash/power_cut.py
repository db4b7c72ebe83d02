#!/usr/bin/env python3
"""test/crash/power_cut.py - turns a kill -9 into a power cut (scripts/power-loss-test).

    power_cut.py LOG DATA_DIR MODE SEED

LOG is the durability log the killed broker wrote (SB_TEST_DURABILITY_LOG, format in
core/io_durability.h); DATA_DIR its data directory; MODE `random` or `zero` (`everything`:
a control that garbles synced writes too, so verification must fail). Afterwards the
directory holds what a power cut at the moment of the kill could have left:

1. names: newest first, every rename and every file creation that no later completed
   fsync of its directory (both directories for a rename) or syncfs covers is undone: the
   renamed file gets its old name back and the file it replaced returns (from the hard link
   the broker kept in LOG.d); a created file is deleted;
2. sizes: a file longer than its size at its last completed fsync (its size when it was
   opened, if it never had one) is cut back to it;
3. contents: every byte a write changed that no later completed fsync covers (a write is
   covered by an fsync of its file queued after the write completed, and a D write, RWF_DSYNC,
   by its own success) is overwritten with random bytes or zeros (MODE), including writes
   never completed and failed ones.
A syncfs (S lines: one per file the broker held open) counts as an fsync of each file it
lists, and for names as an fsync of every directory.

Bytes a write left unchanged are not garbled: storage relies on overwrites with identical
bytes being harmless (docs/storage.md, "Flush"), and the broker logs only the changed span.
Prints one summary line; exits 2 on a malformed log or a rename that cannot be undone.
"""
import os
import random
import sys


class Log:
    """The parsed durability log: writes, successful fsyncs, creations and renames."""

    def __init__(self, path):
        self.writes = []          # [inode, offset, length, completed_line or None, dsync]
        self.synced = {}          # inode -> (line of the last successful fsync's queueing, size)
        self.first_size = {}      # inode -> size at its first open in this log
        self.dsync_end = {}       # inode -> end of the furthest successful D write's span
        self.creations = []       # (line, inode, path)
        self.renames = []         # (line, inode, backup, from, to)
        self.syncfs = []          # line of each successful syncfs's queueing
        pending = {}
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle):
                self._parse(number, line.rstrip("\n").split(" ", 5), pending)

    def _parse(self, number, fields, pending):
        kind = fields[0]
        if kind == "O" and len(fields) == 6:
            inode = int(fields[2])
            self.first_size.setdefault(inode, int(fields[3]))
            if fields[4] == "1":
                self.creations.append((number, inode, fields[5]))
        elif kind in ("W", "D") and len(fields) == 5:
            write = [int(fields[2]), int(fields[3]), int(fields[4]), None, kind == "D"]
            self.writes.append(write)
            pending[fields[1]] = ("W", write)
        elif kind == "F" and len(fields) == 4:
            pending[fields[1]] = ("F", [(number, int(fields[2]), int(fields[3]))])
        elif kind == "S" and len(fields) == 4:
            # A syncfs: one line per open file, all completed by the op's one C line.
            pending.setdefault(fields[1], ("S", []))[1].append(
                (number, int(fields[2]), int(fields[3])))
        elif kind == "C" and len(fields) == 3:
            self._completed(number, pending.pop(fields[1], None), int(fields[2]))
        elif kind == "R" and len(fields) == 5:
            self.renames.append((number, int(fields[1]), fields[2], fields[3], fields[4]))
        elif kind != "":
            # The last line may be cut by the kill only if a write(2) was torn: never for
            # O_APPEND lines this short, so anything else is a bug in the log.
            raise ValueError(f"line {number + 1}: cannot parse {' '.join(fields)!r}")

    def _completed(self, number, record, result):
        if record is None:
            return
        kind, value = record
        if kind == "W":
            value[3] = number if result >= 0 else None
            if value[4] and result >= 0:
                self.dsync_end[value[0]] = max(self.dsync_end.get(value[0], 0),
                                               value[1] + value[2])
        elif result == 0:
            if kind == "S":
                self.syncfs.append(value[0][0])
            for queued, inode, size in value:
                if queued > self.synced.get(inode, (-1, 0))[0]:
                    self.synced[inode] = (queued, size)

    def covered(self, inode, line):
        """True if a successful fsync of `inode` was queued after log line `line`."""
        return self.synced.get(inode, (-1, 0))[0] > line

    def name_covered(self, directory, line):
        """True if a name change in `directory` at log line `line` is durable: a successful
        fsync of the directory, or a syncfs (which writes back every directory of the
        filesystem, open or not), was queued after it."""
        return self.covered(directory, line) or any(queued > line for queued in self.syncfs)


def directory_inode(path):
    return os.stat(os.path.dirname(path)).st_ino


def inode_at(path):
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def undo_names(log):
    """Undoes uncovered renames and creations, newest first. Returns (renames, creations)."""
    events = [("R", event[0], event) for event in log.renames]
    events += [("O", event[0], event) for event in log.creations]
    undone = {"R": 0, "O": 0}
    for kind, number, event in sorted(events, key=lambda item: item[1], reverse=True):
        if kind == "R":
            _, inode, backup, source, target = event
            durable = (log.name_covered(directory_inode(source), number) and
                       log.name_covered(directory_inode(target), number))
            if durable or inode_at(target) != inode:
                continue  # Made durable, or never happened (killed before the rename).
            if backup == "!":
                raise ValueError(f"rename over {target} cannot be undone (no backup)")
            os.rename(target, source)
            if backup != "-":
                os.rename(backup, target)
        else:
            _, inode, path = event
            if log.name_covered(directory_inode(path), number) or inode_at(path) != inode:
                continue
            os.unlink(path)
        undone[kind] += 1
    return undone["R"], undone["O"]


def files_by_inode(data_dir):
    found = {}
    for directory, _, names in os.walk(data_dir):
        for name in names:
            path = os.path.join(directory, name)
            status = os.lstat(path)
            if os.path.isfile(path):
                found[status.st_ino] = path
    return found


def cut_sizes(log, files):
    """Cuts each file back to its durable size. Returns the count cut."""
    cut = 0
    for inode, path in files.items():
        size = log.synced[inode][1] if inode in log.synced else log.first_size.get(inode)
        if inode in log.dsync_end:
            size = max(size or 0, log.dsync_end[inode])
        if size is not None and os.path.getsize(path) > size:
            os.truncate(path, size)
            cut += 1
    return cut


def garble(log, files, mode, generator):
    """Overwrites every uncovered changed span. Returns (writes garbled, bytes garbled)."""
    count = 0
    garbled_bytes = 0
    handles = {}
    for inode, offset, length, completed, dsync in log.writes:
        if length == 0 or inode not in files:
            continue
        durable = dsync or log.covered(inode, completed) if completed is not None else False
        if durable and mode != "everything":
            continue
        path = files[inode]
        end = min(offset + length, os.path.getsize(path))
        if end <= offset:
            continue
        if inode not in handles:
            handles[inode] = open(path, "r+b")
        handle = handles[inode]
        handle.seek(offset)
        size = end - offset
        handle.write(generator.randbytes(size) if mode == "random" else bytes(size))
        count += 1
        garbled_bytes += size
    for handle in handles.values():
        handle.close()
    return count, garbled_bytes


def main():
    if len(sys.argv) != 5 or sys.argv[3] not in ("random", "zero", "everything"):
        print("usage: power_cut.py LOG DATA_DIR random|zero|everything SEED", file=sys.stderr)
        return 2
    log_path, data_dir, mode, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    try:
        log = Log(log_path)
        renames, creations = undo_names(log)
    except (ValueError, OSError) as error:
        print(f"power_cut: {error}", file=sys.stderr)
        return 2
    files = files_by_inode(data_dir)
    cut = cut_sizes(log, files)
    count, garbled_bytes = garble(log, files, mode, random.Random(seed))
    os.sync()
    print(f"power_cut mode={mode} writes={len(log.writes)} garbled_writes={count} "
          f"garbled_bytes={garbled_bytes} truncated_files={cut} renames_undone={renames} "
          f"creations_undone={creations}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
