#!/usr/bin/env python3
"""scripts/lib/bench-targets-summary.py OUT_DIR REPEATS - scripts/bench-targets' table.

Reads OUT_DIR/raw (limits.txt, rN-REPEAT.json and their -verify.json, r2.txt from
bench-partitions, r3.txt from bench-catchup, r8-REPEAT.txt from bench_storage recover), prints
the Markdown table (one line per row of issue 14's table: median (min-max) of the figure, the
limit measured in the same run, the ratio, the goal, met, lost/duplicated/out-of-order), writes
OUT_DIR/summary.json and OUT_DIR/targets-ratios.png (gnuplot: each ratio beside its goal).
"""
import json
import os
import re
import statistics
import subprocess
import sys

GB_PER_S_IN_MIB = 1e9 / 1048576


def load_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def pick(data, path):
    for key in path.split("."):
        data = data[key]
    return float(data)


def checks_of(data):
    """'lost/dup/ooo' counts of a verifying run, 'not verified' or 'failed'."""
    if data is None:
        return None, "failed"
    if not data.get("verified") or not data.get("lost_checked"):
        return None, "not verified"
    counts = [int(data.get(key, 0)) for key in ("lost", "duplicated", "out_of_order")]
    return sum(counts), "%d/%d/%d" % tuple(counts)


class Row:
    def __init__(self, number, figure, unit, limit_name, goal_text, compare, goal):
        self.number, self.figure, self.unit = number, figure, unit
        self.limit_name, self.goal_text, self.compare, self.goal = (
            limit_name, goal_text, compare, goal)
        self.values, self.ratios, self.checks, self.notes = [], [], [], []
        self.limit = None
        self.absolute_goal = None  # A figure at or above this meets the goal too.

    def add(self, value, ratio, checks):
        self.values.append(value)
        if ratio is not None:
            self.ratios.append(ratio)
        self.checks.append(checks)

    def ratio(self):
        return statistics.median(self.ratios) if self.ratios else None

    def met(self):
        ratio = self.ratio()
        if ratio is None:
            return None
        if self.absolute_goal is not None and self.values and \
                statistics.median(self.values) >= self.absolute_goal:
            return True  # Row 3's other way to meet it: the figure itself (>= 1 GB/s).
        return {">=": ratio >= self.goal, "<=": ratio <= self.goal,
                "<": ratio < self.goal}[self.compare]

    def verified(self):
        """'0/0/0' when every run verified clean, else each run's text."""
        texts = sorted(set(text for _, text in self.checks))
        return " ".join(texts) if texts else "-"


def digits_of(value):
    return 0 if value >= 100 else 1 if value >= 10 else 2


def cell(values, unit):
    if not values:
        return "-"
    median = statistics.median(values)
    digits = digits_of(median)
    return "%.*f %s (%.*f–%.*f)" % (digits, median, unit, digits, min(values), digits,
                                     max(values))


def limits_of(raw):
    limits = {}
    try:
        for line in open(os.path.join(raw, "limits.txt")):
            if "=" in line:
                key, value = line.strip().split("=", 1)
                limits[key] = float(value)
    except (OSError, ValueError):
        pass
    return limits


def sb_rows(raw, repeats, limits):
    write, pingpong = limits.get("seq_write_mib_s"), limits.get("pingpong_p50_us")
    disk = limits.get("fdatasync_p50_us")
    row1 = Row(1, "produce 1 KiB acks=all, 2 producers × 8000 in flight", "MiB/s",
               "fio O_DIRECT 1 MiB qd4 write", "≥ 0.45", ">=", 0.45)
    row1.limit = write
    row4a = Row("4a", "e2e 1 KiB acks=all at 100k msg/s: sb-bench CPU", "cores",
                "target", "≤ 1", "<=", 1)
    row4a.limit = 0.25
    row4b = Row("4b", "e2e p99.9 at 50 % of row 1's msg/s, linger 1 ms", "ms", "target",
                "≤ 1", "<=", 1)
    row4b.limit = 2.0
    row5 = Row(5, "drain: largest ack after sending stopped (row 1's run)", "ms",
               "the run's ack p99.99", "< 1", "<", 1)
    row6 = Row(6, "100 B acks=1, 1 in flight: ack p50", "µs", "ping-pong p50", "≤ 1.2",
               "<=", 1.2)
    row6.limit = pingpong
    row7 = Row(7, "100 B acks=all, 1 in flight: ack p50", "µs",
               "ping-pong + fio write+fdatasync p50 + 15 µs", "≤ 1", "<=", 1)
    row7.limit = pingpong + disk + 15 if pingpong and disk else None
    for repeat in range(1, repeats + 1):
        run = load_json(os.path.join(raw, "r1-%d.json" % repeat))
        verify = checks_of(load_json(os.path.join(raw, "r1-%d-verify.json" % repeat)))
        if run:
            mib = pick(run, "produced.mib_per_s")
            row1.add(mib, mib / write if write else None, verify)
            drain = run.get("drain", {}).get("ack_max_us")
            p9999 = pick(run, "latency.produce_ack.p99_99_us")
            if drain is not None:
                row5.add(drain / 1e3, drain / p9999 if p9999 else None, verify)
                row5.limit = p9999 / 1e3
            generator_note(row1, run, repeat)
        for row, name, path, scale in ((row4a, "r4rate", "generator.cores", 1),
                                       (row4b, "r4half", "latency.end_to_end.p99_9_us", 1e3)):
            run = load_json(os.path.join(raw, "%s-%d.json" % (name, repeat)))
            if run:
                value = pick(run, path) / scale
                row.add(value, value / row.limit, checks_of(run))
                if row is row4b:
                    row.notes.append("repeat %d: rate %d msg/s"
                                     % (repeat, pick(run, "config.rate")))
                generator_note(row, run, repeat)
        for row, name in ((row6, "r6"), (row7, "r7")):
            run = load_json(os.path.join(raw, "%s-%d.json" % (name, repeat)))
            if run:
                value = pick(run, "latency.produce_ack.p50_us")
                row.add(value, value / row.limit if row.limit else None,
                        checks_of(load_json(os.path.join(raw, "%s-%d-verify.json"
                                                         % (name, repeat)))))
    return row1, row4a, row4b, row5, row6, row7


def generator_note(row, run, repeat):
    if run.get("generator_bound"):
        row.notes.append("repeat %d: sb-bench was the bottleneck" % repeat)
    if run.get("schedule_behind"):
        row.notes.append("repeat %d: the open loop fell behind" % repeat)


def partitions_row(raw):
    row = Row(2, "10,000 partitions (3 topics × 3334), 1 KiB acks=all", "msg/s",
              "16 partitions, same run", "≥ 0.8", ">=", 0.8)
    try:
        text = open(os.path.join(raw, "r2.txt")).read()
    except OSError:
        return row
    cells = {}
    for match in re.finditer(r"^\| after \| (p16|p10000) \| ([0-9.]+) \(([0-9.]+)-([0-9.]+)\)"
                             r" \|[^|]*\|[^|]*\| (-?\d+) \|", text, re.M):
        cells[match.group(1)] = [float(match.group(n)) for n in (2, 3, 4)] + [
            int(match.group(5))]
    if "p10000" in cells and "p16" in cells:
        median, low, high, bad = cells["p10000"]
        row.limit = cells["p16"][0]
        row.values = [low, median, high]  # median (min-max) as bench-partitions printed it
        row.ratios = [median / row.limit]
        worst = min(bad, cells["p16"][3])
        bad_text = "not verified" if worst < 0 else "%d (lost+dup+ooo)" % (bad + cells["p16"][3])
        row.checks = [(None if worst < 0 else bad, bad_text)]
    return row


def catchup_row(raw):
    row = Row(3, "catch-up from disk after restart, 1 partition, page cache dropped", "MiB/s",
              "fio O_DIRECT 1 MiB qd4 read, same size", "≥ 0.6, or ≥ 1 GB/s", ">=", 0.6)
    row.absolute_goal = GB_PER_S_IN_MIB  # 1 GB/s.
    fios = []
    try:
        text = open(os.path.join(raw, "r3.txt")).read()
    except OSError:
        return row
    # Columns after the ratio (broker CPU, disk read per MiB served, ...) are skipped.
    for match in re.finditer(r"^\| this tree \| \d+ \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \|"
                             r"[^\n]*?\| lost=(\S+) dup=(\S+) ooo=(\S+) \|", text, re.M):
        catchup, fio, ratio = (float(match.group(n)) for n in (1, 2, 3))
        counts = match.group(4, 5, 6)
        bad = sum(int(c) for c in counts) if all(c.isdigit() for c in counts) else None
        row.add(catchup, ratio, (bad, "/".join(counts)))
        fios.append(fio)
    row.limit = statistics.median(fios) if fios else None
    return row


def recovery_row(raw, repeats, limits):
    row = Row(8, "recovery replay (bench_storage recover)", "MiB/s",
              "1 GB/s (fio read %.0f, write %.0f MiB/s)" % (
                  limits.get("seq_read_mib_s", 0), limits.get("seq_write_mib_s", 0)),
              "≥ 1", ">=", 1)
    row.limit = GB_PER_S_IN_MIB
    for repeat in range(1, repeats + 1):
        try:
            match = re.search(r"mib_s=([0-9.]+)", open(os.path.join(raw, "r8-%d.txt"
                                                                     % repeat)).read())
        except OSError:
            match = None
        if match:
            value = float(match.group(1))
            row.add(value, value / row.limit, (0, "n/a (storage engine)"))
    return row


def ratio_plot(out, rows):
    measured = [row for row in rows if row.ratio() is not None]
    if not measured:
        return
    path = os.path.join(out, "raw", "ratios.dat")
    with open(path, "w") as handle:
        for index, row in enumerate(measured):
            handle.write("%d \"%s\" %g %g\n" % (index, row.number, row.ratio(), row.goal))
    script = """set terminal pngcairo size 900,500 font ',10'
set output '%s'
set title 'issue 14: each figure ÷ its limit in the same run (bars) and its goal (marks)'
set style fill solid 0.6
set boxwidth 0.6
set xlabel 'row (BENCHMARKS.md, issue 14 table)'
set ylabel 'ratio'
set logscale y
set grid y
set key top left
plot '%s' using 1:3:xtic(2) with boxes title 'measured ratio', \\
     '' using 1:4 with points pointtype 9 pointsize 2 title 'goal'
""" % (os.path.join(out, "targets-ratios.png"), path)
    subprocess.run(["gnuplot"], input=script, text=True, check=False)


def main():
    out, repeats = sys.argv[1], int(sys.argv[2])
    raw = os.path.join(out, "raw")
    limits = limits_of(raw)
    row1, row4a, row4b, row5, row6, row7 = sb_rows(raw, repeats, limits)
    rows = [row1, partitions_row(raw), catchup_row(raw), row4a, row4b, row5, row6, row7,
            recovery_row(raw, repeats, limits)]
    print("Limits measured in this run: fio O_DIRECT 1 MiB qd4 write %.0f MiB/s, read %.0f "
          "MiB/s; 4 KiB write + fdatasync p50 %.1f µs; loopback TCP ping-pong p50 %.1f µs. "
          "%d repeat(s); load average at the start %.2f.\n" % (
              limits.get("seq_write_mib_s", 0), limits.get("seq_read_mib_s", 0),
              limits.get("fdatasync_p50_us", 0), limits.get("pingpong_p50_us", 0), repeats,
              limits.get("load_average_1m", 0)))
    print("| row | figure | median (min–max) | limit, same run | ratio | goal | met | "
          "lost/dup/ooo |")
    print("|---|---|---|---|---|---|---|---|")
    summary = {"limits": limits, "repeats": repeats, "rows": []}
    for row in rows:
        ratio, met = row.ratio(), row.met()
        limit = ("%s: %.*f %s" % (row.limit_name, digits_of(row.limit), row.limit, row.unit)
                 if row.limit
                 else row.limit_name)
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row.number, row.figure, cell(row.values, row.unit), limit,
            "%.2f" % ratio if ratio is not None else "-", row.goal_text,
            "-" if met is None else "yes" if met else "no", row.verified()))
        summary["rows"].append({
            "row": str(row.number), "figure": row.figure, "unit": row.unit,
            "values": row.values, "median": statistics.median(row.values) if row.values
            else None, "limit_name": row.limit_name, "limit": row.limit, "ratio": ratio,
            "ratios": row.ratios, "goal": row.goal_text, "met": met,
            "bad_messages": [bad for bad, _ in row.checks], "checks": row.verified(),
            "notes": row.notes})
    notes = ["- row %s: %s" % (row.number, note) for row in rows for note in row.notes]
    if notes:
        print("\n" + "\n".join(notes))
    bad = [row.number for row in rows if any(b for b, _ in row.checks)]
    if bad:
        print("\nWARNING: lost, duplicated or out-of-order messages in row(s) %s"
              % ", ".join(str(number) for number in bad))
    with open(os.path.join(out, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=1)
    ratio_plot(out, rows)


if __name__ == "__main__":
    main()
