#!/usr/bin/env python3
"""Lists import cycles between the library's modules (one node per source file).

Reads `use crate::...` and `crate::...` paths in code (comments and doc links are skipped) of
`crates/auth0-api/src` and prints each strongly connected component of more than one module.
Exit status 1 when there is a cycle. Usage: scripts/module_cycles.py [src-dir]
"""
import os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'crates', 'auth0-api', 'src')
mods = {}
for dirpath, _, files in os.walk(root):
    for f in files:
        if not f.endswith('.rs'):
            continue
        rel = os.path.relpath(os.path.join(dirpath, f), root)[:-3].split(os.sep)
        if rel[-1] in ('mod', 'lib'):
            rel = rel[:-1]
        if rel and rel[-1] == 'tests':
            continue  # unit-test files may reach anywhere
        mods['::'.join(rel)] = os.path.join(dirpath, f)

def resolve(path):
    parts = path.split('::')
    while parts:
        name = '::'.join(parts)
        if name in mods:
            return name
        parts.pop()
    return None

edges = {m: set() for m in mods}
for m, f in mods.items():
    in_tests = False
    for line in open(f, encoding='utf-8'):
        s = line.strip()
        if s.startswith('#[cfg(test)]'):
            in_tests = True
        if in_tests or s.startswith('//'):
            continue
        hits = re.findall(r'crate::([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)', s)
        # a parent re-exporting or using its own child (`use child::x`, `use self::child::x`)
        child = re.match(r'(?:pub(?:\(crate\))? )?use (?:self::)?([a-z_][a-z0-9_]*)::', s)
        if child and child.group(1) not in ('std', 'crate', 'super', 'core', 'alloc'):
            hits.append((m + '::' if m else '') + child.group(1))
        for hit in hits:
            target = resolve(hit)
            if target is not None and target != m and target != '':
                edges[m].add(target)

index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in mods:
    if v not in index:
        strong(v)
for comp in sccs:
    print('cycle:', ' '.join(comp))
    for a in comp:
        for b in sorted(edges[a] & set(comp)):
            print(f'  {a} -> {b}')
if not sccs:
    print(f'no import cycle among {len(mods)} modules')
sys.exit(1 if sccs else 0)
