#!/usr/bin/env python3
"""gen-casemap.py -- writes src/liquid/casemap.c, the Unicode case tables.

Liquid's upcase, downcase and capitalize are Ruby's String methods, which
apply Unicode's full case mapping: the simple one-to-one mappings of
UnicodeData.txt plus the unconditional one-to-many ones of
SpecialCasing.txt (ß upcases to SS, ŉ to ʼN, İ downcases to i̇). The
conditional mappings (Greek final sigma, Turkish and Lithuanian rules)
are left out, as Ruby leaves them out.

The input is Debian's unicode-data package (apt-get install unicode-data);
the output is committed, so building brasa does not need it. Run from the
repository root after an update of the package:

    python3 scripts/gen-casemap.py > src/liquid/casemap.c
"""
import sys

UCD = '/usr/share/unicode'


def cps(field):
    return [int(x, 16) for x in field.split()]


def load():
    simple = {'lower': {}, 'upper': {}, 'title': {}}
    with open(f'{UCD}/UnicodeData.txt') as f:
        rows = [line.split(';') for line in f]
    for i, r in enumerate(rows):
        cp = int(r[0], 16)
        # Ranges (<CJK Ideograph, First> ... Last>) have no case mappings.
        up, lo, ti = r[12], r[13], r[14].strip()
        if up:
            simple['upper'][cp] = int(up, 16)
        if lo:
            simple['lower'][cp] = int(lo, 16)
        # An empty titlecase field means "same as uppercase".
        if ti:
            simple['title'][cp] = int(ti, 16)
        elif up:
            simple['title'][cp] = int(up, 16)
    full = {'lower': {}, 'upper': {}, 'title': {}}
    with open(f'{UCD}/SpecialCasing.txt') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(';')]
            if fields[4]:  # a condition: Final_Sigma, tr, lt, ...
                continue
            cp = int(fields[0], 16)
            for name, field in (('lower', fields[1]), ('title', fields[2]), ('upper', fields[3])):
                to = cps(field)
                if to != [simple[name].get(cp, cp)]:
                    full[name][cp] = to
    return simple, full


def ranges(mapping, keep_identity=False):
    """(lo, hi, delta, step): cp in [lo, hi] with (cp - lo) % step == 0 maps
    to cp + delta. A range only grows over consecutive mapped code points,
    so spans never overlap and a binary search finds the one range that may
    hold a code point."""
    out = []
    items = sorted((cp, to - cp) for cp, to in mapping.items() if to != cp or keep_identity)
    i = 0
    while i < len(items):
        lo, d = items[i]
        hi, step, j = lo, 1, i + 1
        if j < len(items) and items[j][1] == d and items[j][0] - lo in (1, 2):
            step = items[j][0] - lo
            while j < len(items) and items[j][1] == d and items[j][0] - hi == step:
                hi = items[j][0]
                j += 1
        out.append((lo, hi, d, step))
        i = j
    return out


def utf8(seq):
    return ''.join('\\x%02x' % b for b in ''.join(map(chr, seq)).encode('utf-8'))


def main():
    simple, full = load()
    # Only titlecase mappings that differ from the uppercase ones need their
    # own table: the digraphs (ǆ titlecases to ǅ) and the letters that stay
    # as they are (Georgian ა, whose uppercase is Ა), kept with a delta of 0.
    title = {cp: to for cp, to in simple['title'].items() if to != simple['upper'].get(cp, cp)}
    o = sys.stdout
    o.write('/* casemap.c -- Unicode case mapping tables (generated: do not edit).\n'
            ' *\n'
            ' * Written by scripts/gen-casemap.py from Debian\'s unicode-data\n'
            ' * (UnicodeData.txt and the unconditional mappings of SpecialCasing.txt),\n'
            ' * for liq_case in utf8.c. */\n'
            '#include "internal.h"\n')
    with open(f'{UCD}/SpecialCasing.txt') as f:
        o.write('\n/* %s */\n' % f.readline().strip('# \n'))
    for name, m in (('lower', simple['lower']), ('upper', simple['upper']), ('title', title)):
        rs = ranges(m, name == 'title')
        o.write('\nstatic const liq_case_range %s_ranges[] = {\n' % name)
        for lo, hi, d, step in rs:
            o.write('    {0x%04X, 0x%04X, %d, %d},\n' % (lo, hi, d, step))
        o.write('};\n')
        fl = sorted(full[name].items())
        o.write('\nstatic const liq_case_full %s_full[] = {\n' % name)
        for cp, to in fl:
            o.write('    {0x%04X, "%s"},\n' % (cp, utf8(to)))
        if not fl:
            o.write('    {0, ""},\n')
        o.write('};\n')
    o.write('\nconst liq_case_table liq_case_tables[3] = {\n')
    for name in ('lower', 'upper', 'title'):
        nfull = len(full[name])
        o.write('    {%s_ranges, sizeof %s_ranges / sizeof *%s_ranges, %s_full, %d},\n' % (name, name, name, name, nfull))
    o.write('};\n')


main()
