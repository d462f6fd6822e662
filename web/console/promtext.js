// SPDX-License-Identifier: Apache-2.0
// promtext.js: a parser for the Prometheus text exposition format (what /metrics serves).
//
// Handles what the format allows: # HELP / # TYPE comments (ignored but for TYPE), label
// values with \\ \" \n escapes, NaN and ±Inf values, optional timestamps. A line that does
// not parse is reported in `errors` and skipped, so one odd line does not hide the rest.

// parse(text) -> {samples: [{name, labels, value}], types: {name: type}, errors: [string]}
export function parse(text) {
  const samples = [];
  const types = {};
  const errors = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types[m[1]] = m[2];
      continue;
    }
    const s = parseLine(line);
    if (s) samples.push(s);
    else errors.push(`line ${n + 1}: cannot parse '${line.slice(0, 80)}'`);
  }
  return { samples, types, errors };
}

function parseLine(line) {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) return null;
  const name = m[1];
  let pos = name.length;
  const labels = {};
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      while (line[pos] === ' ' || line[pos] === ',') pos++;
      if (line[pos] === '}') {
        pos++;
        break;
      }
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(line.slice(pos));
      if (!lm) return null;
      pos += lm[0].length;
      let value = '';
      for (;;) {
        const c = line[pos++];
        if (c === undefined) return null;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[pos++];
          value += e === 'n' ? '\n' : e;
        } else {
          value += c;
        }
      }
      labels[lm[1]] = value;
    }
  }
  const rest = line.slice(pos).trim().split(/\s+/);
  if (rest.length < 1 || rest[0] === '') return null;
  const v = rest[0];
  let value;
  if (v === '+Inf' || v === 'Inf') value = Infinity;
  else if (v === '-Inf') value = -Infinity;
  else if (v === 'NaN') value = NaN;
  else {
    value = Number(v);
    if (Number.isNaN(value)) return null;
  }
  return { name, labels, value };
}

// All samples named `name`, optionally filtered by a predicate on labels.
export function select(parsed, name, pred) {
  return parsed.samples.filter((s) => s.name === name && (!pred || pred(s.labels)));
}

// Sum of the samples named `name`, or null when there is none.
export function sum(parsed, name, pred) {
  const xs = select(parsed, name, pred);
  if (xs.length === 0) return null;
  return xs.reduce((a, s) => a + s.value, 0);
}
