#!/usr/bin/env python3
"""diff-sets JSON DIR_A DIR_B [--nonempty]

Check `kheaders diff --json` output (in the file JSON) against
`diff -rq --no-dereference DIR_A DIR_B` run on the two archives
extracted into DIR_A and DIR_B: the added, removed and changed sets must
be the same.

diff(1) names a directory that exists on one side only once ("Only in
A: dir"); every entry below it is expanded here, as kheaders lists each
entry. kheaders' "type" and "link" changes are what diff calls "File X
is a regular file while file Y is a symbolic link" and "Symbolic links X
and Y differ": both count as changed. Mode changes have no diff -q
equivalent and must not occur between two kheaders archives.

--nonempty: also fail when a set is empty (so that a comparison of
empty sets cannot pass by accident). Exit 0 when equal, 1 otherwise.
"""
import json
import os
import subprocess
import sys


def rel(root, path):
    r = os.path.relpath(path, root)
    return '.' if r == '.' else './' + r


def expand(root, path):
    """path and, for a real directory, everything below it."""
    out = {rel(root, path)}
    if os.path.isdir(path) and not os.path.islink(path):
        for d, dirs, files in os.walk(path):
            for n in dirs + files:
                out.add(rel(root, os.path.join(d, n)))
    return out


def theirs(a, b):
    sets = {'added': set(), 'removed': set(), 'changed': set()}
    run = subprocess.run(['diff', '-rq', '--no-dereference', a, b],
                         stdout=subprocess.PIPE, env=dict(os.environ, LC_ALL='C'))
    if run.returncode not in (0, 1):
        sys.exit('diff -rq failed with status %d' % run.returncode)
    for line in run.stdout.decode('utf-8', 'surrogateescape').splitlines():
        if line.startswith('Only in '):
            where, name = line[len('Only in '):].split(': ', 1)
            side, root = ('removed', a) if (where + '/').startswith(a + '/') else ('added', b)
            sets[side] |= expand(root, os.path.join(where, name))
            continue
        for head, mid in (('Files ', ' and '), ('Symbolic links ', ' and '),
                          ('File ', None)):
            if not line.startswith(head + a + '/'):
                continue
            rest = line[len(head + a + '/'):]
            if mid:
                path = rest.split(mid + b + '/', 1)[0]
            else:
                path = rest.split(' is a ', 1)[0]
            sets['changed'].add('./' + path)
            break
        else:
            sys.exit('diff -rq said something unexpected: ' + line)
    return sets


def ours(doc):
    sets = {'added': set(), 'removed': set(), 'changed': set()}
    for c in doc['changes']:
        kind = c['kind']
        if kind in ('added', 'removed'):
            sets[kind].add(c['path'])
        elif kind in ('changed', 'type', 'link'):
            sets['changed'].add(c['path'])
        elif kind == 'mode':
            sys.exit('unexpected mode change: ' + c['path'])
    return sets


def main():
    args = [x for x in sys.argv[1:] if x != '--nonempty']
    nonempty = '--nonempty' in sys.argv[1:]
    if len(args) != 3:
        sys.exit(__doc__)
    with open(args[0], encoding='utf-8', errors='surrogateescape') as f:
        doc = json.load(f)
    a, b = (os.path.normpath(x) for x in args[1:])
    mine, diffs = ours(doc), theirs(a, b)
    bad = 0
    for kind in ('added', 'removed', 'changed'):
        only_k = sorted(mine[kind] - diffs[kind])
        only_d = sorted(diffs[kind] - mine[kind])
        status = 'same' if not only_k and not only_d else 'DIFFERENT'
        print('%-8s kheaders %5d, diff -rq %5d: %s' %
              (kind, len(mine[kind]), len(diffs[kind]), status))
        for p in only_k[:10]:
            print('  only kheaders says %s: %s' % (kind, p))
        for p in only_d[:10]:
            print('  only diff -rq says %s: %s' % (kind, p))
        if only_k or only_d or (nonempty and not mine[kind]):
            bad = 1
    # The summary must count what the list holds.
    for kind, n in doc['counts'].items():
        listed = sum(1 for c in doc['changes'] if c['kind'] == kind)
        if listed != n:
            print('counts.%s is %d but %d are listed' % (kind, n, listed))
            bad = 1
    return bad


if __name__ == '__main__':
    sys.exit(main())
