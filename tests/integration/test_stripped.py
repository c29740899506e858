# SPDX-License-Identifier: MIT
"""Frames of stripped binaries (issue 20, item 7): a stripped program's
frames read module+0x..., and the text report names such a module once, at
the end, with its build-id debug path and how to get its symbols; a
stripped program carrying MiniDebugInfo (.gnu_debugdata) has its function
named by libdw, and is not in that note; nor is a program with symbols."""
import os
import re
import struct
from harness import check, done, report_json, report_text, run_traced, skip, victim

NOTE = "Modules without symbols"
# libdw itself must name the frames, not a symbol cache from another run.
os.environ["HELDBY_SYMBOL_CACHE"] = "off"


def elf_sections(path):
    """{name: (type, offset, size)} of a 64-bit little-endian ELF."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    heads = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = heads[shstrndx][4]
    out = {}
    for name, typ, _, _, off, size in heads:
        end = data.index(b"\0", stroff + name)
        out[data[stroff + name:end].decode()] = (typ, off, size)
    return out, data


def build_id(path):
    """The GNU build-id note of an ELF, in hex, or None."""
    secs, data = elf_sections(path)
    if ".note.gnu.build-id" not in secs:
        return None
    _, off, _ = secs[".note.gnu.build-id"]
    namesz, descsz, _ = struct.unpack_from("<III", data, off)
    desc = off + 12 + (namesz + 3) // 4 * 4
    return data[desc:desc + descsz].hex()


def note_of(text):
    """The lines of the note block, from its heading to the end."""
    i = text.find("\n" + NOTE)
    return text[i + 1:].splitlines() if i >= 0 else []


def frames_of_section(text, heading):
    m = re.search(r"^" + re.escape(heading) + r".*?(?=^\S|\Z)", text, re.M | re.S)
    return m.group(0) if m else ""


def json_nosyms(js):
    """The JSON's modules_without_symbols, or None where report_json does
    not emit it yet (its maintainer adds the call)."""
    return js.get("modules_without_symbols")


# ---- 1. plainly stripped: named once in the note, with its build-id path ----
exe = victim("stripped_plain")
t = run_traced([exe])
if check("stripped_plain_traced", t.trace is not None and t.proc.returncode == 0, t.proc.stderr):
    secs, _ = elf_sections(exe)
    check("stripped_plain_victim_has_no_symtab_and_a_build_id",
          ".symtab" not in secs and ".gnu_debugdata" not in secs and build_id(exe))
    r = report_text(t.trace)
    out = r.stdout
    peak = frames_of_section(out, "Top holders at peak")
    check("stripped_plain_frames_read_module_plus_offset",
          r.returncode == 0 and re.search(r"^\s+stripped_plain\+0x[0-9a-f]+$", peak, re.M), out)
    note = note_of(out)
    bid = build_id(exe)
    want = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
    mods = [l.split()[0] for l in note[1:] if re.match(r"^    \S+  /", l)]
    check("stripped_note_comes_once_after_the_lists",
          out.count(NOTE) == 1 and out.find(NOTE) > out.find("Most allocation calls"), out)
    check("stripped_note_names_the_stripped_module_once_with_its_path",
          mods == ["stripped_plain"] and any(l.strip().endswith(os.path.realpath(exe)) or
                                             l.strip().endswith(exe) for l in note), "\n".join(note))
    check("stripped_note_gives_the_build_id_debug_path",
          any(l.strip().endswith(want) for l in note), f"want {want}\n" + "\n".join(note))
    check("stripped_note_says_how_to_get_the_symbols",
          "dpkg -S" in "\n".join(note) and "-dbgsym" in "\n".join(note)
          and "debian-debug" in "\n".join(note), "\n".join(note))
    check("stripped_note_is_not_a_frame_of_the_last_list",
          note and all(not l.startswith("        ") for l in note), "\n".join(note))
    js = report_json(t.trace)
    ns = json_nosyms(js)
    if ns is None:
        skip("stripped_json_lists_the_module_without_symbols",
             "report_json does not call report_json_nosyms yet")
    else:
        check("stripped_json_lists_the_module_without_symbols",
              [(m["module"], m["build_id"]) for m in ns] == [("stripped_plain", bid)]
              and ns[0]["path"].endswith("stripped_plain"), ns)

# ---- 2. a program with its symbols is in no note ----
t = run_traced([victim("stripped_full")])
if check("stripped_full_traced", t.trace is not None and t.proc.returncode == 0, t.proc.stderr):
    out = report_text(t.trace).stdout
    check("stripped_no_note_for_a_program_with_symbols",
          NOTE not in out and re.search(r"^\s+hold_stripped_buffers\s", out, re.M), out)
    ns = json_nosyms(report_json(t.trace))
    if ns is None:
        skip("stripped_json_empty_for_a_program_with_symbols",
             "report_json does not call report_json_nosyms yet")
    else:
        check("stripped_json_empty_for_a_program_with_symbols", ns == [], ns)

# ---- 3. MiniDebugInfo: libdw reads .gnu_debugdata (liblzma) ----
exe = victim("stripped_minidebug")
if not os.path.exists(exe):
    skip("stripped_minidebug_names_the_function", "not built: nm, objcopy or xz missing")
else:
    secs, _ = elf_sections(exe)
    check("stripped_minidebug_victim_has_only_gnu_debugdata",
          ".symtab" not in secs and ".debug_info" not in secs and ".gnu_debugdata" in secs,
          sorted(secs))
    t = run_traced([exe])
    if check("stripped_minidebug_traced", t.trace is not None and t.proc.returncode == 0,
             t.proc.stderr):
        out = report_text(t.trace).stdout
        peak = frames_of_section(out, "Top holders at peak")
        check("stripped_minidebug_text_names_the_function",
              re.search(r"^\s+hold_stripped_buffers\s+\(stripped_minidebug\)$", peak, re.M)
              and "stripped_minidebug+0x" not in peak, out)
        check("stripped_minidebug_not_in_the_note", NOTE not in out, out)
        js = report_json(t.trace)
        top = js["peak_holders"][0]["stack"] if js["peak_holders"] else []
        named = [f for f in top if f["function"] == "hold_stripped_buffers"]
        check("stripped_minidebug_json_names_the_function",
              named and named[0]["module"].endswith("stripped_minidebug")
              and named[0]["file"] is None, top)
        ns = json_nosyms(js)
        if ns is None:
            skip("stripped_minidebug_not_in_json_list",
                 "report_json does not call report_json_nosyms yet")
        else:
            check("stripped_minidebug_not_in_json_list", ns == [], ns)
done()
