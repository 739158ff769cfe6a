#!/usr/bin/env python3
"""Test vectors for dubbo-dns names, from an implementation independent of the product's.

Follows docs/naming.md step by step with Python's standard library only (hashlib, base64,
ipaddress), and prints docs/name-vectors.json. test/docs/name-vectors.test.ts checks every vector
against the TypeScript implementation and that this script still prints exactly the committed file.

  python3 docs/tools/name-vectors.py            # print the vectors
  python3 docs/tools/name-vectors.py --write    # rewrite docs/name-vectors.json
"""
import base64
import hashlib
import ipaddress
import json
import re
import sys
from pathlib import Path


def service_hash(interface: str, group: str, version: str) -> str:
    data = b"\0".join(part.encode("utf-8") for part in ("dubbo", interface, group, version))
    return base64.b32encode(hashlib.sha256(data).digest()).decode("ascii").lower()[:10]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def service_label(interface: str, group: str, version: str) -> str:
    parts = [slug(interface.rsplit(".", 1)[-1])]
    if group:
        parts.append(slug(group)[:16])
    if version:
        parts.append(("v" + slug(version))[:16])
    joined = re.sub(r"-{2,}", "-", "-".join(p for p in parts if p))
    if not joined:
        joined = "d"
    elif not ("a" <= joined[0] <= "z"):
        joined = "d-" + joined
    joined = joined[:52].rstrip("-")
    return f"{joined}-{service_hash(interface, group, version)}"


def canonical_address(address: str) -> str:
    """Dotted quad for IPv4; for IPv6 RFC 5952 (an IPv4-mapped address in hex, like the rest)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return str(ip)
    words = [int.from_bytes(ip.packed[i : i + 2], "big") for i in range(0, 16, 2)]
    best_start, best_len, i = -1, 1, 0
    while i < 8:
        if words[i] == 0:
            j = i
            while j < 8 and words[j] == 0:
                j += 1
            if j - i > best_len:
                best_start, best_len = i, j - i
            i = j
        else:
            i += 1
    hexes = [format(w, "x") for w in words]
    if best_start < 0:
        return ":".join(hexes)
    return ":".join(hexes[:best_start]) + "::" + ":".join(hexes[best_start + best_len :])


HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def endpoint_labels(endpoints):
    """Labels in declaration order: the hostname once per service, else the address written with -."""
    taken, out = {}, []
    for e in endpoints:
        address = canonical_address(e["address"])
        by_address = address.lower().replace(".", "-").replace(":", "-")
        host = (e.get("hostname") or "").lower()
        label = host if e.get("hostname") is not None and HOSTNAME.match(host) else by_address
        if taken.get(label, address) != address:
            label = by_address
        taken[label] = address
        out.append((address, label))
    return out


def zone_name(zone: str) -> str:
    return zone.strip().lower().rstrip(".") + "."


def vector(name, interface, group="", version="", namespace="default", zone="dubbo.internal.", protocol="dubbo", endpoints=()):
    h = service_hash(interface, group, version)
    s = service_label(interface, group, version)
    z = zone_name(zone)
    service = f"{s}.{namespace}.{z}"
    return {
        "name": name,
        "interface": interface,
        "group": group,
        "version": version,
        "namespace": namespace,
        "zone": zone,
        "protocol": protocol,
        "hash": h,
        "label": s,
        "names": {
            "service": service,
            "srv": f"_{protocol}._tcp.{service}",
            "instance": f"{s}._dubbo._tcp.{namespace}.{z}",
            "browse": f"_dubbo._tcp.{namespace}.{z}",
        },
        "endpoints": [
            {"address": e["address"], "hostname": e.get("hostname"), "canonical": address, "label": label, "name": f"{label}.{service}"}
            for e, (address, label) in zip(endpoints, endpoint_labels(endpoints))
        ],
    }


VECTORS = [
    vector("the worked example", "org.apache.dubbo.demo.DemoService", "gray", "1.0.0", "shop",
           endpoints=[{"address": "10.0.0.11", "hostname": "demo-0"}, {"address": "10.0.0.13"}]),
    vector("empty group and version", "org.apache.dubbo.demo.DemoService"),
    vector("group only", "org.apache.dubbo.demo.DemoService", group="gray"),
    vector("version only", "org.apache.dubbo.demo.GreetingService", version="2.0.0", namespace="shop", protocol="tri"),
    vector("an interface without a package", "DemoService", version="1"),
    vector("a simple name starting with a digit gets d-", "com.example.3dService"),
    vector("a group starting with a digit after an empty simple name gets d-", "com.example.___", group="2024"),
    vector("all punctuation: nothing left, the label is d", "...", group="!!!"),
    vector("an empty interface is d too", ""),
    vector("a version that slugs to nothing is just v", "com.example.Foo", group="g", version="-"),
    vector("an interface ending in a dot: the simple name is empty", "com.example.", version="2"),
    vector("non-ASCII letters become -", "com.example.\u00dcmlaut", "gr\u00fcppe", "1.0"),
    vector("CJK names slug to nothing; the version part starts with v", "\u4e2d\u6587.\u670d\u52a1", version="1.0"),
    vector("KELVIN SIGN lowercases to an ASCII k", "com.example.\u212aelvinService"),
    vector("LATIN CAPITAL I WITH DOT lowercases to i and a combining dot", "com.example.\u0130stanbulService"),
    vector("an emoji hashes as 4 UTF-8 bytes and slugs away", "com.example.Rocket", group="\U0001f680fast"),
    vector("an inner class: $ becomes -", "com.example.Outer$Inner", version="1.2.3"),
    vector("case, underscores and digits", "com.example.HTTP_Service_V2", group="a/b:c", version=".1."),
    vector("a 200-character simple name is cut to 52", "com.x." + "A" * 200),
    vector("the cut at 52 lands on - and drops it", "com.example." + "a" * 51, group="bbb"),
    vector("group and version cut to 16, the repeated - collapsed", "Foo", "very-long-group-name-exceeding", "2024.01.15-SNAPSHOT"),
    vector("every part long", "org.example." + "LongInterfaceName" * 4, "group-" + "x" * 30, "1." * 20 + "0"),
    vector("group and version are told apart (the NUL separators)", "a.B", version="x"),
    vector("group and version are told apart, the other way", "a.B", group="x"),
    vector("the zone is lowercased and gets one trailing dot", "org.apache.dubbo.demo.DemoService", "gray", "1.0.0", "shop", zone="Dubbo.Example.COM"),
    vector("IPv6 endpoints: address labels with - for : and .", "org.example.V6Service", namespace="v6",
           endpoints=[{"address": "fd00::12"}, {"address": "FD00:0:0:0:0:0:0:13"}, {"address": "2001:db8:0:0:1:0:0:1"},
                      {"address": "::ffff:10.0.0.1"}, {"address": "::1"}]),
    vector("hostnames: used once per service, else the address; invalid ones fall back", "org.example.HostService", version="1",
           endpoints=[{"address": "10.1.0.1", "hostname": "web"}, {"address": "10.1.0.2", "hostname": "web"},
                      {"address": "10.1.0.3", "hostname": "Web-3"}, {"address": "10.1.0.4", "hostname": "pod.with.dots"},
                      {"address": "fd00::5", "hostname": "web-5"}, {"address": "10.1.0.6", "hostname": "-bad"}]),
]


def render() -> str:
    doc = {
        "description": "Test vectors for dubbo-dns service labels and DNS names; the algorithm is docs/naming.md. "
        "Generated by docs/tools/name-vectors.py; checked against the product by test/docs/name-vectors.test.ts.",
        "vectors": VECTORS,
    }
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


if __name__ == "__main__":
    text = render()
    if sys.argv[1:] == ["--write"]:
        (Path(__file__).resolve().parent.parent / "name-vectors.json").write_text(text, encoding="utf-8")
    elif sys.argv[1:]:
        sys.exit("usage: name-vectors.py [--write]")
    else:
        sys.stdout.write(text)
