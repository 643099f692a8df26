"""The checkpoint gate's proof corpus: benign and hostile files, built with this machine's PyTorch,
each loaded by PyTorch itself to record what torch.load really does with it.

    /usr/bin/python3 trainer/tools/gate_corpus.py DIR

writes the files into DIR and DIR/manifest.json: for every file its name, whether it is meant
to be hostile, and what PyTorch did, each load in a fresh interpreter:
  ran_code      plain torch.load (weights_only=False) ran code from the file (the payload of every
                hostile file writes a marker file named after it; the marker is looked for)
  loads_plain   plain torch.load returned without an error
  loads_weights torch.load(weights_only=True) returned without an error (weights_ran_code: it ran code)
  loads_pickle  pickle.load returned without an error (pickle_ran_code: it ran code)
test/cli/gate.test.ts runs `pmf inspect` on each and holds it to the gate's promise: every file
it passes (exit 0) loads without running code, and every file that runs code is refused (exit 5).

The hostile files are the bypasses an attacker found in pMF Lab's earlier gate and their kin:
a numpy function that runs a string, duplicate names in the ZIP archive (in both orders and in
another letter case), a data.pkl outside the archive's folder, a local header that names another
file, legacy files whose magic number or protocol version is written with other opcodes, code in
each of a legacy file's five pickles, protocol-0 text pickles, INST/OBJ/NEWOBJ instead of REDUCE,
a global computed with STACK_GLOBAL from str(), a truncated pickle whose code runs before the
cut, the pre-0.4 tar format, and nested torch.save bytes.
"""
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections import OrderedDict

import torch


def marker_code(dir_, name):
    """Python that writes the marker of `name` (what each hostile payload runs)."""
    return f"open({os.path.join(dir_, name + '.ran')!r}, 'w').close()"


def shell_marker(dir_, name):
    return f"touch {os.path.join(dir_, name + '.ran')}"


# ---- hand-written pickle pieces ------------------------------------------------------------------

def s0(text):
    """A protocol-0 STRING argument line."""
    return b"S" + repr(text).encode() + b"\n"


def binunicode(text):
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def global0(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def exec_call(code):
    """builtins.exec(code), protocol 2 opcodes."""
    return global0("builtins", "exec") + binunicode(code) + b"\x85R"


def system_call(cmd):
    return global0("os", "system") + binunicode(cmd) + b"\x85R"


def proto2(body):
    return b"\x80\x02" + body + b"."


class Exec:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


# ---- archives ------------------------------------------------------------------------------------

def save_zip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def zip_entries(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate names are the point
            for name, data in entries:
                z.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def legacy_pickles(pieces):
    """A legacy torch.save file from its five pickles' bytes (magic, version, sys info, object, keys)."""
    return b"".join(pieces)


def legacy_parts(obj):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    # split into its pickles with pickletools' own reader
    import pickletools
    parts, pos = [], 0
    for _ in range(5):
        for opcode, arg, p in pickletools.genops(data[pos:]):
            if opcode.name == "STOP":
                end = pos + p + 1
                break
        parts.append(data[pos:end])
        pos = end
    return parts, data[pos:]


def build(dir_):
    os.makedirs(dir_, exist_ok=True)
    files = {}  # name -> (bytes, hostile)
    sd = OrderedDict(weight=torch.arange(6, dtype=torch.float32).reshape(2, 3), bias=torch.zeros(3))

    # -- benign
    files["benign-zip.pt"] = (save_zip(sd), False)
    for proto in (2, 3, 4, 5):
        buf = io.BytesIO()
        torch.save(sd, buf, pickle_protocol=proto)
        files[f"benign-zip-proto{proto}.pt"] = (buf.getvalue(), False)
    for proto in (1, 2, 4):
        buf = io.BytesIO()
        torch.save(sd, buf, _use_new_zipfile_serialization=False, pickle_protocol=proto)
        files[f"benign-legacy-proto{proto}.pt"] = (buf.getvalue(), False)
    training = {
        "model": sd, "step": 1200, "lr": 1e-4, "betas": (0.9, 0.95), "names": {"a", "b"},
        "blob": b"\x00\x01", "cfg": {"depth": 2, "eps": complex(1, 2)}, "param": torch.nn.Parameter(torch.ones(2)),
        "window": slice(0, 4), "dtype": torch.float16,
    }
    files["benign-training.pt"] = (save_zip(training), False)
    files["benign-numpy.pt"] = (save_zip({"w": torch.ones(2), "np": __import__("numpy").arange(4.0)}), False)
    files["benign-plain-pickle.pkl"] = (pickle.dumps({"a": [1, 2, 3], "b": "text"}, protocol=2), False)

    # -- hostile: zip archives
    def evil(name):
        return save_zip({"w": torch.ones(2), "x": Exec(marker_code(dir_, name))})

    files["evil-reduce.pt"] = (evil("evil-reduce.pt"), True)
    np_name = "evil-numpy-runstring.pt"
    np_pkl = proto2(
        b"}(" + binunicode("w") + binunicode("x") + binunicode("x")
        + global0("numpy.testing._private.utils", "runstring") + binunicode(marker_code(dir_, np_name)) + b"}\x86Ru"
    )
    benign_entries = zip_entries(save_zip(sd))
    folder = benign_entries[0][0].split("/")[0]

    def with_pkl(pkl, entries=benign_entries):
        return [(n, pkl if n.endswith("/data.pkl") else d) for n, d in entries]
    files[np_name] = (write_zip(with_pkl(np_pkl)), True)
    for order in ("first", "second"):
        name = f"evil-duplicate-{order}.pt"
        bad = proto2(b"}" + binunicode("x") + exec_call(marker_code(dir_, name)) + b"s")
        good = dict(benign_entries)[f"{folder}/data.pkl"]
        pair = [(f"{folder}/data.pkl", bad), (f"{folder}/data.pkl", good)]
        if order == "second":
            pair.reverse()
        rest = [(n, d) for n, d in benign_entries if not n.endswith("/data.pkl")]
        files[name] = (write_zip(rest[:1] + pair + rest[1:]), True)
    name = "evil-duplicate-case.pt"
    bad = proto2(b"}" + binunicode("x") + exec_call(marker_code(dir_, name)) + b"s")
    files[name] = (write_zip(benign_entries + [(f"{folder}/DATA.PKL", bad)]), True)
    name = "evil-outside-folder.pt"
    bad = proto2(b"}" + binunicode("x") + exec_call(marker_code(dir_, name)) + b"s")
    # torch takes the folder from the first entry ('evil/'); a reader that looks for any data.pkl may find good/'s
    files[name] = (write_zip([("evil/version", b"3\n"), ("good/data.pkl", dict(benign_entries)[f"{folder}/data.pkl"]),
                              ("evil/data.pkl", bad)] + [(n.replace(folder, "evil"), d) for n, d in benign_entries if "/data/" in n]), True)
    name = "evil-local-header.pt"
    bad = proto2(b"}" + binunicode("x") + exec_call(marker_code(dir_, name)) + b"s")
    data = bytearray(write_zip(with_pkl(bad)))
    # rename data.pkl in its local header only (the central directory keeps the name torch.load uses)
    at = data.find(f"{folder}/data.pkl".encode())
    data[at:at + len(folder) + 9] = f"{folder}/data.pkx".encode()
    files[name] = (bytes(data), True)
    name = "evil-nested-load.pt"
    inner = save_zip({"x": Exec(marker_code(dir_, name))})
    files[name] = (write_zip(with_pkl(proto2(
        b"}" + binunicode("x") + global0("torch.storage", "_load_from_bytes") + b"B" + struct.pack("<I", len(inner)) + inner + b"\x85Rs"
    ))), True)

    # -- hostile: legacy files
    parts, tail = legacy_parts(sd)
    magic_long4 = b"\x80\x02\x8b\x0a\x00\x00\x00" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    magic_text = b"L" + str(0x1950A86A20F9469CFC6C).encode() + b"L\n."
    for label, magic in (("long4", magic_long4), ("text", magic_text)):
        name = f"evil-legacy-magic-{label}.pt"
        obj = proto2(b"}" + binunicode("x") + exec_call(marker_code(dir_, name)) + b"s")
        files[name] = (legacy_pickles([magic, parts[1], parts[2], obj, parts[4]]) + tail, True)
    name = "evil-legacy-version-octal.pt"
    obj = proto2(b"}" + binunicode("x") + exec_call(marker_code(dir_, name)) + b"s")
    files[name] = (legacy_pickles([parts[0], b"I01751\n.", parts[2], obj, parts[4]]) + tail, True)
    for i, label in enumerate(["magic", "version", "sysinfo", "object", "keys"]):
        name = f"evil-legacy-in-{label}.pt"
        pieces = list(parts)
        pieces[i] = proto2(exec_call(marker_code(dir_, name)) + b"0" + parts[i][2:-1]) if i != 3 else proto2(
            b"}" + binunicode("x") + exec_call(marker_code(dir_, name)) + b"s")
        files[name] = (legacy_pickles(pieces) + tail, True)

    # -- hostile: other pickles
    name = "evil-protocol0.pt"
    files[name] = (global0("os", "system") + b"(" + s0(shell_marker(dir_, name)) + b"tR.", True)
    name = "evil-protocol0-builtin.pt"
    files[name] = (global0("__builtin__", "eval") + b"(" + s0(marker_code(dir_, name)) + b"tR.", True)
    name = "evil-inst.pt"
    files[name] = (b"(" + s0(marker_code(dir_, name)) + b"ibuiltins\nexec\n.", True)
    name = "evil-obj.pt"
    files[name] = (b"\x80\x02(" + global0("builtins", "exec") + binunicode(marker_code(dir_, name)) + b"o.", True)
    name = "evil-stack-global-computed.pt"
    # str('builtins') and str('exec') computed by calls, then STACK_GLOBAL: the names are not in the bytes as such
    files[name] = (b"\x80\x04" + global0("builtins", "str") + binunicode("builtins") + b"\x85R"
                   + global0("builtins", "str") + binunicode("exec") + b"\x85R\x93" + binunicode(marker_code(dir_, name)) + b"\x85R.", True)
    name = "evil-truncated-after-call.pt"
    files[name] = (b"\x80\x02" + exec_call(marker_code(dir_, name)) + b"\x94(K\x01K\x02", True)
    name = "evil-tar.pt"
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.PAX_FORMAT) as t:
        payload = proto2(exec_call(marker_code(dir_, name)))
        info = tarfile.TarInfo("storages")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    files[name] = (tbuf.getvalue(), True)

    for fname, (data, _) in files.items():
        with open(os.path.join(dir_, fname), "wb") as f:
            f.write(data)
    manifest = []
    plain = run_loads(dir_, list(files), "plain")
    weights = run_loads(dir_, list(files), "weights")
    pickled = run_loads(dir_, list(files), "pickle")
    for fname, (_, hostile) in files.items():
        manifest.append({"name": fname, "hostile": hostile, "ran_code": plain[fname]["ran"],
                         "loads_plain": plain[fname]["ok"], "loads_weights": weights[fname]["ok"],
                         "weights_ran_code": weights[fname]["ran"], "loads_pickle": pickled[fname]["ok"],
                         "pickle_ran_code": pickled[fname]["ran"], "error": plain[fname]["error"]})
    with open(os.path.join(dir_, "manifest.json"), "w") as f:
        json.dump({"torch": torch.__version__, "files": manifest}, f, indent=1)


LOADER = r"""
import json, os, sys, warnings
import torch
warnings.simplefilter("ignore")
dir_, names, mode = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
out = {}
for n in names:
    path = os.path.join(dir_, n)
    marker = path + ".ran"
    if os.path.exists(marker):
        os.remove(marker)
    try:
        if mode == "pickle":
            import pickle
            with open(path, "rb") as f:
                pickle.load(f)
        else:
            torch.load(path, weights_only=mode == "weights")
        ok, err = True, ""
    except BaseException as e:  # a hostile file may raise anything
        ok, err = False, f"{type(e).__name__}: {str(e)[:200]}"
    out[n] = {"ok": ok, "error": err, "ran": os.path.exists(marker)}
    if os.path.exists(marker):
        os.remove(marker)
print(json.dumps(out))
"""


def run_loads(dir_, names, mode):
    """torch.load (mode 'plain' or 'weights') or pickle.load ('pickle') of every file, in a fresh interpreter."""
    r = subprocess.run([sys.executable, "-c", LOADER, dir_, json.dumps(names), mode],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"gate_corpus: the loader failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    build(sys.argv[1])
