#!/usr/bin/env python3
"""Summarise a kazoo pytest junit.xml and compare it with an expected list.

usage: kazoo_summary.py JUNIT_XML EXPECTED_FILE SUMMARY_OUT MODE

EXPECTED_FILE lines (blank lines and '#' comments ignored):
    kazoo/tests/test_x.py::TestClass::test_name   # reason
or baseline style:
    FAIL kazoo/tests/test_x.py::TestClass::test_name   # reason
(baseline lines with PASS/SKIP are ignored; FAIL/ERROR lines are expected
failures).  Exit 1 iff a test that is not expected to fail FAILs/ERRORs.
"""
import sys
import xml.etree.ElementTree as ET

OUTCOMES = ("PASS", "FAIL", "ERROR", "SKIP")


def node_id(classname, name):
    parts = classname.split(".")
    # module = everything up to and including the first test_* component
    for i, p in enumerate(parts):
        if p.startswith("test_"):
            mod = "/".join(parts[: i + 1]) + ".py"
            rest = parts[i + 1:]
            return "::".join([mod] + rest + [name])
    return "::".join(["/".join(parts) + ".py", name])


def load_expected(path):
    exp = {}
    try:
        fh = open(path)
    except FileNotFoundError:
        return exp
    with fh:
        for line in fh:
            body, _, reason = line.partition("#")
            toks = body.split()
            if not toks:
                continue
            if toks[0] in OUTCOMES or toks[0] == "DESELECTED":
                if toks[0] in ("FAIL", "ERROR") and len(toks) > 1:
                    exp[toks[1]] = reason.strip()
            else:
                exp[toks[0]] = reason.strip()
    return exp


def main():
    junit, expected_path, out_path, mode = sys.argv[1:5]
    root = ET.parse(junit).getroot()
    rank = {"PASS": 0, "SKIP": 1, "FAIL": 2, "ERROR": 3}
    results = {}
    for tc in root.iter("testcase"):
        nid = node_id(tc.get("classname", ""), tc.get("name", ""))
        outcome, msg = "PASS", ""
        for child in tc:
            tag = child.tag
            if tag in ("failure", "error", "skipped"):
                o = {"failure": "FAIL", "error": "ERROR", "skipped": "SKIP"}[tag]
                m = (child.get("message") or "").strip().splitlines()
                if rank[o] > rank[outcome]:
                    outcome, msg = o, (m[0] if m else "")[:200]
        prev = results.get(nid)
        if prev is None or rank[outcome] > rank[prev[0]]:
            results[nid] = (outcome, msg, tc.get("time", "0"))

    expected = load_expected(expected_path)
    counts = {o: 0 for o in OUTCOMES}
    unexpected, xfail_ok, xpass = [], [], []
    lines = []
    for nid in sorted(results):
        outcome, msg, t = results[nid]
        counts[outcome] += 1
        line = "%-5s %s" % (outcome, nid)
        if outcome in ("FAIL", "ERROR"):
            if nid in expected:
                xfail_ok.append(nid)
                line += "   # expected: " + (expected[nid] or "listed")
            else:
                unexpected.append(nid)
                line += "   # UNEXPECTED: " + msg
        elif outcome == "SKIP":
            line += "   # " + msg
        elif nid in expected:
            xpass.append(nid)
        lines.append(line)
    with open(out_path, "w") as fh:
        fh.write("# kazoo suite, mode=%s: %s\n" % (
            mode, " ".join("%s=%d" % (o, counts[o]) for o in OUTCOMES)))
        fh.write("\n".join(lines) + "\n")

    print("kazoo (%s): %s; expected failures hit: %d; unexpected: %d"
          % (mode, " ".join("%s=%d" % (o, counts[o]) for o in OUTCOMES),
             len(xfail_ok), len(unexpected)))
    for nid in xpass:
        print("  note: listed as expected failure but passed: " + nid)
    for nid in unexpected:
        print("  UNEXPECTED %s %s: %s" % (results[nid][0], nid, results[nid][1]))
    print("  summary: " + out_path)
    if unexpected or not results:
        print("FAIL kazoo (%s)" % mode)
        return 1
    print("PASS kazoo (%s)" % mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
