#!/usr/bin/env bash
# The stage-to-stage diffs the book shows, and the check that no stage keeps
# a byte-identical copy of its predecessor's file.
#
#   tools/stage-diffs.sh           write book/src/diffs/stage-N.diff for every
#                                  stage N > 1 (chapter N includes it)
#   tools/stage-diffs.sh --check   list every source file of a stage that is
#                                  byte-identical to the previous stage's (or
#                                  to a file of common/), and fail if any is
#
# The diffs are generated, not committed (book/src/diffs is in .gitignore):
# `make book`, `make book-check` and tools/check-book.sh write them first,
# so the book always shows the stages as they are, and a student's change
# to a stage can never leave a stale committed diff behind.
#
# Each diff reads in the order of its chapter: first a summary, one line per
# file; then the code, `src/main.rs` first and then each file in the order
# the chapter first names it (files it never names after those, by path),
# then the manifest, then the tests (`tests/`, `*tests.rs`, `testing.rs`).
# A file deleted whole is one line of the summary, not its every line; a
# file that moved shows as a rename with its real changes. Only the files
# git knows (committed or to be committed) are compared, and generated files
# (proptest-regressions/) are left out.
#
# Why the copy check: a file no chapter changes belongs in common/ (as
# common/src/memory_plan.rs, kernel_space.rs, paging/, watermark.rs), not
# copied from stage to stage. A copy is allowed only
# - while a later stage still changes the file (it is not finished, and
#   common/ holds finished code only): e.g. stage 5's objects/model_tests.rs,
#   the same as stage 4's, changes in stage 6;
# - or when it is listed in EXEMPT below, with the reason it must be per
#   stage. Each entry names one stage's file, so a new stage's copy is
#   caught again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=write
case "${1:-}" in
--check) mode=check ;;
"") ;;
*)
    echo "usage: tools/stage-diffs.sh [--check]" >&2
    exit 2
    ;;
esac

# The copies that must stay per stage, and why. These files are compiled
# against the stage's own kernel objects (KernelObject, KindOps, the weak
# lists, ManagedArc), which chapters 4 to 6 change; common/ comes before
# every stage and cannot name a stage's types.
EXEMPT=(
    "stages/05-tasks/src/objects/header.rs: an object's header, built on stage 5's objects (KernelObject, KindOps, weak)"
    "stages/06-channels/src/objects/header.rs: an object's header, built on stage 6's objects (KernelObject, KindOps, weak)"
    "stages/06-channels/src/objects/page.rs: the page kind, built on stage 6's objects and mapping"
    "stages/06-channels/src/objects/table.rs: the page-table kinds, built on stage 6's objects and mapping"
    "stages/06-channels/src/paging/mod.rs: the stage's crate::paging, a re-export of common::paging that every module of the stage names"
)

# The same output whatever the user's git configuration says.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copies the source files git knows under folder $1 into $work/$1.
copy_sources() {
    git ls-files --cached --others --exclude-standard -- "$1" |
        grep -v '/proptest-regressions/' |
        while IFS= read -r file; do
            [ -f "$file" ] || continue # deleted but not yet committed
            mkdir -p "$work/$(dirname "$file")"
            cp -p "$file" "$work/$file"
        done
}

stages=(stages/[0-9][0-9]-*)
for folder in "${stages[@]}" common; do
    copy_sources "$folder"
done

exempt_file="$work/.exempt"
printf '%s\n' "${EXEMPT[@]}" >"$exempt_file"

exec python3 - "$mode" "$work" "$exempt_file" "${stages[@]}" <<'PY'
import difflib, filecmp, os, re, subprocess, sys

mode, work, exempt_file, stages = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
exempt = {}
for line in open(exempt_file, encoding="utf-8"):
    path, _, reason = line.strip().partition(": ")
    if path:
        exempt[path] = reason


def files_of(folder):
    """The stage-relative paths of every file under $work/folder."""
    base = os.path.join(work, folder)
    found = []
    for directory, _, names in os.walk(base):
        for name in names:
            found.append(os.path.relpath(os.path.join(directory, name), base))
    return sorted(found)


def git_diff(*args):
    # git diff --no-index exits with 1 when the files differ.
    run = subprocess.run(
        ["git", "-c", "core.quotepath=off", "diff", "--no-index", "--no-color", "--no-ext-diff", *args],
        cwd=work, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        sys.exit(f"stage-diffs: git diff {' '.join(args)} failed: {run.stderr}")
    return run.stdout


def is_test(path):
    name = os.path.basename(path)
    return path.startswith("tests/") or "/tests/" in path or name.endswith("tests.rs") or name == "testing.rs"


def is_manifest(path):
    return os.path.basename(path) in ("Cargo.toml", "build.rs")


# ---- the copy check --------------------------------------------------------

if mode == "check":
    contents = [{path: os.path.join(work, stage, path) for path in files_of(stage)} for stage in stages]
    common = [os.path.join(work, "common", path) for path in files_of("common")]
    copies = []
    for index in range(1, len(stages)):
        for path, file in contents[index].items():
            where = f"{stages[index]}/{path}"
            previous = contents[index - 1].get(path)
            if previous and filecmp.cmp(previous, file, shallow=False):
                later = next((c[path] for c in contents[index + 1:] if path in c), None)
                if later and not filecmp.cmp(later, file, shallow=False):
                    continue  # a later stage still changes it
                if where in exempt:
                    continue
                copies.append(f"{where} is the same as {stages[index - 1]}/{path}")
    for index, stage in enumerate(stages):
        for path, file in contents[index].items():
            same = [c for c in common if filecmp.cmp(c, file, shallow=False)]
            if same:
                copies.append(f"{stage}/{path} is the same as {os.path.relpath(same[0], work)}")
    if copies:
        print("stage-diffs: byte-identical copies (move the file into common/ and use it from there,", file=sys.stderr)
        print("or, if it must stay per stage, add it to EXEMPT in tools/stage-diffs.sh with the reason):", file=sys.stderr)
        for copy in copies:
            print(f"  {copy}", file=sys.stderr)
        sys.exit(1)
    print(f"stage-diffs: no stage copies its predecessor's files ({len(exempt)} exempt, each with its reason)")
    sys.exit(0)

# ---- the diffs -------------------------------------------------------------


def chapter_text(number):
    for name in sorted(os.listdir("book/src")):
        if re.fullmatch(rf"chapter-{number}-.*\.md", name):
            return open(os.path.join("book/src", name), encoding="utf-8").read()
    return ""


def mention(text, stage, path):
    """Where the chapter first names `path`: as the stage's path, or by the
    path below src/ (`objects/channel.rs`); None if it never does."""
    short = path[4:] if path.startswith("src/") else path
    places = [at for at in (text.find(f"{stage}/{path}"), text.find(short)) if at >= 0]
    return min(places) if places else None


def common_home(file):
    """The file of common/ a deleted stage file went to: one of the same
    name whose lines are mostly the same, if there is one. Only a kernel
    source file can have gone there (not a manifest, nor a module root)."""
    name = os.path.basename(file)
    if "/src/" not in file or not name.endswith(".rs") or name in ("mod.rs", "lib.rs", "main.rs"):
        return None
    with open(os.path.join(work, file), encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    for directory, _, names in os.walk("common/src"):
        if name in names:
            candidate = os.path.join(directory, name)
            with open(candidate, encoding="utf-8", errors="replace") as f:
                if difflib.SequenceMatcher(None, lines, f.readlines()).ratio() > 0.4:
                    return candidate
    return None


def line_count(file):
    with open(os.path.join(work, file), encoding="utf-8", errors="replace") as f:
        return sum(1 for _ in f)


os.makedirs("book/src/diffs", exist_ok=True)
for index in range(1, len(stages)):
    previous, current = stages[index - 1], stages[index]
    number = int(os.path.basename(current).split("-")[0])
    text = chapter_text(number)

    entries = []  # (status, old path or None, new path or None), stage-relative
    for line in git_diff("--name-status", "--find-renames", previous, current).splitlines():
        fields = line.split("\t")
        status = fields[0][0]
        strip = lambda p, s: os.path.relpath(p, s)
        if status == "R":
            entries.append(("R", strip(fields[1], previous), strip(fields[2], current)))
        elif status == "A":
            entries.append(("A", None, strip(fields[1], current)))
        elif status == "D":
            entries.append(("D", strip(fields[1], previous), None))
        else:  # changed in place: git names the file by its old path
            entries.append((status, strip(fields[1], previous), strip(fields[1], previous)))

    # A file deleted from the stage that went to common/ shows as a move
    # there, with the changes this chapter made on the way.
    for at, (status, old, new) in enumerate(entries):
        if status == "D":
            home = common_home(f"{previous}/{old}")
            if home:
                entries[at] = ("C", old, home)

    def order(entry):
        status, old, new = entry
        path = new or old
        group = 2 if is_test(path) else 1 if is_manifest(path) else 0
        if status == "C":
            path = old
        if path == "src/main.rs":
            place = -1
        else:
            places = [mention(text, current, path), mention(text, previous, path)]
            if status == "C":
                places.append(text.find(new) if new in text else None)
            places = [p for p in places if p is not None]
            place = min(places) if places else None
        return (status == "D", group, place is None, place or 0, path)

    entries.sort(key=order)

    summary, body = [], []
    width = max((len(e[2] if e[0] == "C" else f"{current}/{e[2] or e[1]}") for e in entries), default=0)
    totals = [0, 0]
    # A folder the stage no longer has at all is one line, its files counted.
    gone = {}
    for status, old, _ in entries:
        top = old.split("/")[0] if status == "D" and "/" in old else None
        if top and not os.path.exists(os.path.join(work, current, top)):
            gone.setdefault(top, []).append(old)
    deleted = [f"deleted: {previous}/{old} ({line_count(f'{previous}/{old}')} lines)"
               for status, old, _ in entries if status == "D" and old.split("/")[0] not in gone]
    for folder, files in sorted(gone.items()):
        lines = sum(line_count(f"{previous}/{file}") for file in files)
        deleted.append(f"deleted: {previous}/{folder}/ ({len(files)} files, {lines} lines)")
    for status, old, new in entries:
        if status == "D":
            continue
        left = f"{previous}/{old}" if old else "/dev/null"
        right = new if status == "C" else f"{current}/{new}"
        added, removed = 0, 0
        for row in git_diff("--numstat", left, right).splitlines():
            a, r, _ = row.split("\t", 2)
            if a != "-":
                added, removed = int(a), int(r)
        totals[0] += added
        totals[1] += removed
        label = {"A": "new", "R": "moved", "C": "moved", "M": "changed"}.get(status, "changed")
        extra = f" (from {previous}/{old})" if status in "RC" else ""
        summary.append(f"{label:>8}: {right:<{width}} +{added} -{removed}{extra}")
        body.append(git_diff("--find-renames", left, right).rstrip("\n"))

    summary += deleted
    header = [
        f"Stage {number} from stage {number - 1}: {len(entries)} files, +{totals[0]} -{totals[1]} lines.",
        f"The code first, in the order chapter {number} explains it; then the manifest and the tests.",
        "",
    ]
    target = f"book/src/diffs/stage-{number}.diff"
    with open(target, "w", encoding="utf-8") as out:
        out.write("\n".join(header + summary) + "\n\n" + "\n".join(body) + "\n")
    print(f"wrote {target}")
PY
