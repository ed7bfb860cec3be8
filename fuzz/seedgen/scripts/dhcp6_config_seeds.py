#!/usr/bin/env python3
"""Writes the config_parse6 seeds: the Dhcp6 configs the repository ships (configs/) and the
Dhcp6 configs embedded as raw string literals in the Rust tests (parser, engine, integration),
deduplicated, at most 8 KiB each. Literals that are format! templates ({} placeholders) are
kept with the placeholders filled by a plausible value, so most seeds still parse and the rest
exercise the error paths. Run from anywhere: python3 fuzz/seedgen/scripts/dhcp6_config_seeds.py
"""
import hashlib
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[3]
OUT = REPO / "fuzz" / "corpus" / "config_parse6"
SOURCES = [
    "engine/config/src/parse6",
    "engine/config/tests",
    "engine/v6/src",
    "tests/integration",
    "src",
]
RAW = re.compile(r'r(#+)"(.*?)"\1', re.S)


def fill(text: str) -> str:
    # format! templates: "{{" / "}}" are literal braces, "{name}" / "{}" a value.
    if "{{" not in text:
        return text
    text = re.sub(r"\{[a-z_0-9]*(:[^{}]*)?\}", "1", text)
    return text.replace("{{", "{").replace("}}", "}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    seen = set()
    seeds = []
    for p in sorted((REPO / "configs").glob("*.json")):
        t = p.read_text()
        if '"Dhcp6"' in t:
            seeds.append((p.stem, t))
    for src in SOURCES:
        for p in sorted((REPO / src).rglob("*.rs")):
            for i, m in enumerate(RAW.finditer(p.read_text())):
                t = m.group(2)
                if '"Dhcp6"' not in t:
                    continue
                seeds.append((f"{p.stem}-{i}", fill(t)))
    n = 0
    for name, t in seeds:
        data = t.encode()
        h = hashlib.sha1(data).hexdigest()[:10]
        if h in seen or len(data) > 8192:
            continue
        seen.add(h)
        (OUT / f"{name}-{h}.json").write_bytes(data)
        n += 1
    print(f"{n} seeds in {OUT}")


if __name__ == "__main__":
    main()
