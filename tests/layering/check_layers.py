#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# The include half of mehdbd's layering (mehdbd/meson.build has the link
# half): every '#include "<dir>/..."' in mehdbd/ must name a layer at or below
# the including file's own. The order is read from the one place that defines
# it, the foreach over layers in mehdbd/meson.build, so the two cannot drift.
# main.cc may include every layer; the CLI (cli/) only what it links: base/
# and tls/. Exit status 1 with one line per violation.
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
daemon = root / 'mehdbd'
build_text = (daemon / 'meson.build').read_text()
match = re.search(r"foreach name : \[([^\]]*)\]", build_text)
if not match:
    sys.exit('mehdbd/meson.build: no "foreach name : [...]" over the layers')
order = re.findall(r"'([a-z_]+)'", match.group(1))
rank = {name: i for i, name in enumerate(order)}
allowed_for = {name: set(order[:i + 1]) for i, name in enumerate(order)}
allowed_for['cli'] = {'cli', 'base', 'tls'}

include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)
violations = []
checked = 0
for path in sorted(daemon.rglob('*')):
    if path.suffix not in ('.h', '.cc'):
        continue
    rel = path.relative_to(daemon)
    owner = rel.parts[0] if len(rel.parts) > 1 else None
    if owner is None:
        if rel.name != 'main.cc':
            violations.append(f'mehdbd/{rel}: a file outside every layer')
        continue
    if owner not in allowed_for:
        violations.append(f'mehdbd/{rel}: directory {owner}/ is not a layer '
                          f'in mehdbd/meson.build')
        continue
    checked += 1
    for target in include.findall(path.read_text()):
        if target in rank or target == 'cli':
            if target not in allowed_for[owner]:
                violations.append(f'mehdbd/{rel}: includes {target}/, a layer '
                                  f'above {owner}/ (order: {" < ".join(order)})')
for line in violations:
    print(line)
print(f'{checked} files in {len(order)} layers checked, '
      f'{len(violations)} violations')
sys.exit(1 if violations else 0)
